package consume

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Recover turns a panic in the handler into a permanent error for that one
// message, so a poison message cannot take the rest of its batch down. A
// panic is a bug that a retry would repeat, hence permanent.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = Permanent(fmt.Errorf("panic handling message %s: %v\n%s", m.ID, r, debug.Stack()))
				}
			}()
			return next(ctx, m)
		}
	}
}
