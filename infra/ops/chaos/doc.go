// Package chaos runs the whole local pipeline (infra/ops/local) under
// seeded, reproducible faults and checks the project's invariant against the
// stores: every scan request ends as COMPLETED or FAILED with a reason on its
// record, or as a message in a dead-letter queue; none stuck in SCANNING,
// none lost, no duplicate archive and no duplicate alert.
//
// One seed decides everything the harness chooses: the images and their
// content, the pushes (duplicated and shuffled), which digests make the
// QScanner stand-in crash, hang or exit 40, when a function's workers are
// killed mid-batch, and which requests of the functions to moto fail
// (Proxy). Request faults are decided per (service, operation, digest,
// occurrence), so they do not depend on how the digests' work interleaves.
//
// Operator and test code only: no function links it (handlers/depcheck_test).
package chaos
