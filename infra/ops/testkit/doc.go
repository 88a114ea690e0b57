// Package testkit is what the project's tests share: made-up inputs (image
// references, digests, reports, bus events), the golden-file check with its
// one -update flag, in-memory fakes of the domain's store ports, and the
// contract suites every implementation of those ports runs.
//
// It plays the parts go-containerregistry splits between pkg/v1/random
// (made-up inputs) and pkg/v1/validate (checks any test can call), and
// watermill's pubsub/tests (one importable contract suite per port). Only
// tests import it: it sits under infra/ops, which no Lambda function may link
// (handlers/depcheck_test.go).
package testkit
