/* Enrolment: both sides derive the same KEK; a wrong credential or a
 * tampered reply or confirmation fails. */
#include "check.h"

#include "bckm/enrol.h"

static void agree(void) {
    uint8_t psk[32] = {7}, hello[36], reply[64], fin[32];
    struct bckm_enrol_device d;
    struct bckm_enrol_bp b;
    REQUIRE(bckm_enrol_device_hello(&d, 1234, psk, NULL, hello) == BCKM_OK);
    CHECK_EQ(bckm_enrol_hello_serial(hello), 1234);
    REQUIRE(bckm_enrol_bp_reply(&b, 3, psk, hello, NULL, reply) == BCKM_OK);
    CHECK_EQ(bckm_enrol_device_finish(&d, 3, reply, fin), BCKM_OK);
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_OK);
    CHECK_MEM(d.kek, b.kek, 32);
    /* Two runs give unrelated KEKs (ephemeral keys). */
    struct bckm_enrol_device d2;
    struct bckm_enrol_bp b2;
    REQUIRE(bckm_enrol_device_hello(&d2, 1234, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b2, 3, psk, hello, NULL, reply) == BCKM_OK);
    CHECK(memcmp(b2.kek, b.kek, 32) != 0);
}

static void wrong_credential_or_tamper(void) {
    uint8_t psk[32] = {7}, other[32] = {8}, hello[36], reply[64], fin[32];
    struct bckm_enrol_device d;
    struct bckm_enrol_bp b;
    /* BP uses another credential: the device rejects the BP. */
    REQUIRE(bckm_enrol_device_hello(&d, 1, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b, 1, other, hello, NULL, reply) == BCKM_OK);
    CHECK_EQ(bckm_enrol_device_finish(&d, 1, reply, fin), BCKM_ERR_AUTH);
    /* Tampered tag. */
    REQUIRE(bckm_enrol_device_hello(&d, 1, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b, 1, psk, hello, NULL, reply) == BCKM_OK);
    reply[40] ^= 1;
    CHECK_EQ(bckm_enrol_device_finish(&d, 1, reply, fin), BCKM_ERR_AUTH);
    /* Wrong BP ID in the transcript. */
    reply[40] ^= 1;
    CHECK_EQ(bckm_enrol_device_finish(&d, 2, reply, fin), BCKM_ERR_AUTH);
    /* Tampered device confirmation. */
    CHECK_EQ(bckm_enrol_device_finish(&d, 1, reply, fin), BCKM_OK);
    fin[0] ^= 1;
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_ERR_STATE);
}

CHECK_CASES(CASE(agree), CASE(wrong_credential_or_tamper))
