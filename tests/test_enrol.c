/* Enrolment: both sides derive the same KEK; a wrong credential or a
 * tampered reply or confirmation fails. */
#include "check.h"

#include "bckm/enrol.h"

static const uint8_t bp_pk[32] = { 0xb1 }, root[32] = { 0xa7 };

static void agree(void) {
    uint8_t psk[32] = { 7 }, hello[36], reply[BCKM_ENROL_REPLY_BYTES], fin[32];
    struct bckm_enrol_device d;
    struct bckm_enrol_bp b;
    REQUIRE(bckm_enrol_device_hello(&d, 1234, psk, NULL, hello) == BCKM_OK);
    CHECK_EQ(bckm_enrol_hello_serial(hello), 1234);
    REQUIRE(bckm_enrol_bp_reply(&b, 3, bp_pk, root, psk, hello, NULL, reply) == BCKM_OK);
    CHECK_EQ(bckm_enrol_device_finish(&d, reply, fin), BCKM_OK);
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_OK);
    CHECK_MEM(d.kek, b.kek, 32);
    /* The device learnt what it trusts from the authenticated reply. */
    CHECK_EQ(d.bp_id, 3);
    CHECK_MEM(d.bp_pk, bp_pk, 32);
    CHECK_MEM(d.bps_root, root, 32);
    /* Two runs give unrelated KEKs (ephemeral keys). */
    struct bckm_enrol_device d2;
    struct bckm_enrol_bp b2;
    REQUIRE(bckm_enrol_device_hello(&d2, 1234, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b2, 3, bp_pk, root, psk, hello, NULL, reply) == BCKM_OK);
    CHECK(memcmp(b2.kek, b.kek, 32) != 0);
}

static void wrong_credential_or_tamper(void) {
    uint8_t psk[32] = { 7 }, other[32] = { 8 }, hello[36], reply[BCKM_ENROL_REPLY_BYTES], fin[32];
    struct bckm_enrol_device d;
    struct bckm_enrol_bp b;
    /* BP uses another credential: the device rejects the BP. */
    REQUIRE(bckm_enrol_device_hello(&d, 1, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b, 1, bp_pk, root, other, hello, NULL, reply) == BCKM_OK);
    CHECK_EQ(bckm_enrol_device_finish(&d, reply, fin), BCKM_ERR_AUTH);
    /* Tampered tag. */
    REQUIRE(bckm_enrol_device_hello(&d, 1, psk, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_enrol_bp_reply(&b, 1, bp_pk, root, psk, hello, NULL, reply) == BCKM_OK);
    reply[110] ^= 1;
    CHECK_EQ(bckm_enrol_device_finish(&d, reply, fin), BCKM_ERR_AUTH);
    /* A forged BP ID, BP key or table root in the reply: each is bound into
     * the transcript tag_b covers. */
    reply[110] ^= 1;
    static const size_t forged[] = { 3, 36, 68, 99 };
    for (size_t k = 0; k < sizeof forged / sizeof forged[0]; k++) {
        reply[forged[k]] ^= 2;
        CHECK_EQ(bckm_enrol_device_finish(&d, reply, fin), BCKM_ERR_AUTH);
        CHECK_EQ(d.bp_id, 0);
        reply[forged[k]] ^= 2;
    }
    /* Tampered device confirmation. */
    CHECK_EQ(bckm_enrol_device_finish(&d, reply, fin), BCKM_OK);
    fin[0] ^= 1;
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_enrol_bp_finish(&b, fin), BCKM_ERR_STATE);
}

CHECK_CASES(CASE(agree), CASE(wrong_credential_or_tamper))
