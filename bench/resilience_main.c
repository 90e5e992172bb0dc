/* Stand-alone driver of the resilience analysis, until `bckm-sim resilience`
 * dispatches to the same function. */
#include "sim/resilience.h"

int main(int argc, char **argv) { return bckm_resilience_main(argc, argv); }
