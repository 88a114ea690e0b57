// Package testkit is what the project's tests share, so that no test keeps
// its own copy:
//
//   - made-up inputs: the sample image (Account, Region, Digest, MustRef,
//     RandomDigest), sample reports (Report, ThresholdReport, LargeReport) and
//     the bus events of the sample scan (CompletedEvent, ReferencedEvent,
//     FailedEvent);
//   - Golden, the golden-file check, with the one -update flag;
//   - in-memory stores for the domain's ports (MemoryScanStore,
//     MemoryIdempotencyStore, MemoryReportStore), which also record what was
//     done to them and fail on demand, and a settable Clock;
//   - the contract suites every implementation of a store port runs
//     (TestScanStore, TestIdempotencyStore): the DynamoDB adapters against
//     moto, and the in-memory stores here.
//
// It plays the parts go-containerregistry splits between pkg/v1/random
// (made-up inputs) and pkg/v1/validate (checks any test can call), and
// watermill's pubsub/tests (one importable contract suite per port). Only
// tests import it: it sits under infra/ops, which no Lambda function may link
// (handlers/depcheck_test.go).
package testkit
