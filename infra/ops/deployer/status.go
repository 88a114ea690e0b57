package deployer

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"ecrscanner/infra/ops/stack"
)

// Status describes the stack: status, resources and outputs.
func (d *Deployer) Status(ctx context.Context, stackName string) (*stack.Deployed, error) {
	return d.inspect(ctx, stackName)
}

// RenderStatus writes a stack's status, resources and outputs for a person.
func RenderStatus(w io.Writer, s *stack.Deployed) error {
	fmt.Fprintf(w, "Stack   %s\nStatus  %s\n", s.Name, s.Status)
	if s.Reason != "" {
		fmt.Fprintf(w, "Reason  %s\n", s.Reason)
	}
	if !s.LastUpdated.IsZero() {
		fmt.Fprintf(w, "Updated %s\n", s.LastUpdated.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\nResources (%d)\n", len(s.Resources))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range s.Resources {
		line := fmt.Sprintf("  %s\t%s\t%s\t%s", r.LogicalID, r.Type, r.Status, r.PhysicalID)
		if r.Reason != "" {
			line += "\t" + oneLine(r.Reason, 120)
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Outputs) > 0 {
		fmt.Fprintf(w, "\nOutputs\n")
		keys := make([]string, 0, len(s.Outputs))
		for k := range s.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\n", k, s.Outputs[k])
		}
	}
	return tw.Flush()
}
