/* Under Frama-C, <sodium.h> is the trust base of the proof: the contracts of
 * the libsodium functions the core calls (see proofs/libsodium.h). */
#include "../libsodium.h"
