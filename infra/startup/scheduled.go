package startup

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

// Scheduled starts a function that a schedule invokes (EventBridge
// Scheduler: the sweep) and that calls AWS: Func's shape, with the one
// traced AWS configuration in Deps.
func Scheduled[TIn, TOut any](name string, build Build[func(context.Context, TIn) (TOut, error)]) {
	s := begin(name, true)
	h, err := build(s.ctx, s.deps)
	s.ready(err)
	lambda.StartHandlerFunc(h)
}
