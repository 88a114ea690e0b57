// Command enrich is the EventBridge Pipe's enrichment function: DynamoDB
// stream records of the scans table in, bus events out.
package main

import (
	"context"

	"ecrscanner/events"
	"ecrscanner/infra/startup"
)

func main() { startup.Func("enrich", build) }

// build reads SCANS_TABLE_ARN, the table whose stream records the function
// accepts (a record of any other table fails its batch).
func build(_ context.Context, d startup.Deps) (func(context.Context, []events.StreamRecord) ([]events.PipeEvent, error), error) {
	table := d.Env.Required("SCANS_TABLE_ARN")
	if table == "" {
		return nil, nil // reported by Env, with every other problem
	}
	e, err := NewEnricher(table, d.Logger)
	if err != nil {
		return nil, err
	}
	return e.Enrich, nil
}
