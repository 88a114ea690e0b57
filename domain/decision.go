package domain

// Decision is what the claimant must do after Claim.
type Decision int

const (
	// DecideScan: the lease is the claimant's; run QScanner, then Complete or Fail.
	DecideScan Decision = iota + 1
	// DecideReferenced: the digest was already scanned; the new reference was
	// recorded with an ImageReferenced event. Nothing else to do.
	DecideReferenced
	// DecideSkip: nothing to do (already recorded, or being scanned by another
	// invocation, which will report this reference too).
	DecideSkip
	// DecideGaveUp: earlier attempts all died holding the lease and the
	// attempts are used up; the record now says ScanFailed. Nothing to run.
	DecideGaveUp
	// DecideRecord: an earlier attempt of this scan stored its report but
	// could not record it; the lease is the claimant's. Record StoredResult
	// with Complete; do not run QScanner again.
	DecideRecord
)

func (d Decision) String() string {
	switch d {
	case DecideScan:
		return "scan"
	case DecideReferenced:
		return "referenced"
	case DecideSkip:
		return "skip"
	case DecideGaveUp:
		return "gave up"
	case DecideRecord:
		return "record stored result"
	}
	return "unknown"
}
