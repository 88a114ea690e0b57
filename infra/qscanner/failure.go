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

func fail(class domain.FailureClass, exitCode int, format string, args ...any) *failureError {
	return &failureError{f: domain.Failure{Class: class, ExitCode: exitCode, Reason: fmt.Sprintf(format, args...)}}
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
