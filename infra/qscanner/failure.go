package qscanner

import (
	"fmt"

	"ecrscanner/domain"
)

// failureError carries a domain.Failure and, when there is one, the error
// behind it. domain.Failure implements error with a value receiver, so a
// caller may ask errors.As for either a *domain.Failure or a domain.Failure;
// both are answered.
type failureError struct {
	f     domain.Failure
	cause error
}

// maxFailureReason bounds a whole Reason: what QScanner printed is cut to
// maxReason by sanitize, and what is added to it (the exit code's meaning, a
// parse error naming an output file) is short, but the Reason is stored on
// the record and sent on the bus, so it is bounded here whatever it holds.
const maxFailureReason = 1024

func fail(class domain.FailureClass, exitCode int, format string, args ...any) *failureError {
	reason := domain.Truncate(fmt.Sprintf(format, args...), maxFailureReason, domain.Ellipsis)
	return &failureError{f: domain.Failure{Class: class, ExitCode: exitCode, Reason: reason}}
}

// addReason appends more to the Reason, within maxFailureReason.
func (e *failureError) addReason(more string) {
	e.f.Reason = domain.Truncate(joinReason(e.f.Reason, more), maxFailureReason, domain.Ellipsis)
}

func (e *failureError) Error() string { return e.f.Error() }

func (e *failureError) Unwrap() error { return e.cause }

func (e *failureError) As(target any) bool {
	switch t := target.(type) {
	case **domain.Failure:
		f := e.f
		*t = &f
		return true
	case *domain.Failure:
		*t = e.f
		return true
	}
	return false
}

func (e *failureError) with(cause error) *failureError {
	e.cause = cause
	return e
}
