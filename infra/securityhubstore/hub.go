package securityhubstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"ecrscanner/domain"
)

// ErrNotEnabled: Security Hub is not enabled for the account in this region
// (or refuses the caller): no retry helps until an operator enables it, after
// which the parked messages can be redriven.
var ErrNotEnabled = errors.New("security hub is not enabled for this account and region")

// API is the part of the Security Hub client that Hub uses. A finding
// provider updates its own findings through BatchImportFindings
// (https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html),
// which cannot change the Workflow or Note of a finding that exists: a
// suppression of an existing finding needs BatchUpdateFindings, which has
// no resource-level permission for a product, so the template confines the
// role's use of it with the securityhub:ASFFSyntaxPath/Workflow.Status
// condition key to SUPPRESSED and NEW (see SetWorkflow).
type API interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
	GetFindings(ctx context.Context, in *securityhub.GetFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error)
	BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// Product is the account's default Security Hub product: the provider an
// account's own findings are imported under.
type Product struct {
	ARN       string
	Partition string
	Region    string
	Account   string
}

var productARNRE = regexp.MustCompile(`^arn:(aws[a-z-]*):securityhub:([a-z]{2,4}(?:-[a-z]{1,12}){1,3}-[0-9]{1,2}):([0-9]{12}):product/([0-9]{12})/default$`)

// ParseProductARN reads arn:<partition>:securityhub:<region>:<account>:product/<account>/default,
// the only product ARN under which an account may import its own findings
// (both account IDs must be the same).
func ParseProductARN(s string) (Product, error) {
	m := productARNRE.FindStringSubmatch(s)
	if m == nil || m[3] != m[4] {
		return Product{}, fmt.Errorf("%w product ARN %q: want arn:<partition>:securityhub:<region>:<account>:product/<account>/default", domain.ErrInvalid, domain.Truncate(s, 160, domain.Ellipsis))
	}
	return Product{ARN: s, Partition: m[1], Region: m[2], Account: m[3]}, nil
}

// Hub imports and reads the findings of one product. It is safe for
// concurrent use.
type Hub struct {
	client        API
	product       Product
	maxBatchBytes int
}

// New returns a Hub writing under productARN (see ParseProductARN) through
// client.
func New(client API, productARN string) (*Hub, error) {
	if client == nil {
		return nil, errors.New("securityhubstore: nil Security Hub client")
	}
	p, err := ParseProductARN(productARN)
	if err != nil {
		return nil, fmt.Errorf("securityhubstore: %w", err)
	}
	return &Hub{client: client, product: p, maxBatchBytes: MaxBatchBytes}, nil
}

// Product is the product the hub imports under.
func (h *Hub) Product() Product { return h.product }

// FailedFinding is one finding Security Hub refused.
type FailedFinding struct {
	ID, Code, Message string
}

// ImportError reports the findings a BatchImportFindings call refused
// (FailedFindings); the others in the call were imported. It is retryable —
// importing the same findings again is harmless — unless every refusal is
// InvalidAccess, which Security Hub answers when it is not enabled: then it
// wraps ErrNotEnabled.
type ImportError struct {
	Failed []FailedFinding
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "security hub refused %d findings:", len(e.Failed))
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		fmt.Fprintf(&b, " %s (%s: %s)", domain.Truncate(f.ID, 160, domain.Ellipsis), f.Code, domain.Truncate(f.Message, 200, domain.Ellipsis))
	}
	return b.String()
}

// Unwrap gives ErrNotEnabled when Security Hub refused every finding for
// lack of access.
func (e *ImportError) Unwrap() error {
	for _, f := range e.Failed {
		if f.Code != "InvalidAccess" && f.Code != "InvalidAccessException" {
			return nil
		}
	}
	if len(e.Failed) == 0 {
		return nil
	}
	return ErrNotEnabled
}

// Import creates or updates findings, in calls of at most MaxBatch findings
// and MaxBatchBytes. Every finding must pass Validate, belong to the hub's
// product and account, and appear once: otherwise nothing is sent and the
// error wraps domain.ErrInvalid. Importing the same findings again leaves
// Security Hub as it was (it ignores an update whose UpdatedAt is older than
// the stored one). Refused findings make an *ImportError after every batch
// was tried; errors.Is(err, ErrNotEnabled) tells a hub that is not enabled,
// and errors.Is(err, domain.ErrInvalid) a request Security Hub rejects as
// invalid. Other errors may be retried.
func (h *Hub) Import(ctx context.Context, findings []Finding) error {
	if len(findings) == 0 {
		return nil
	}
	encoded := make([][]byte, len(findings))
	seen := make(map[string]bool, len(findings))
	var errs []error
	for i, f := range findings {
		if err := Validate(f); err != nil {
			errs = append(errs, err)
			continue
		}
		if f.ProductARN != h.product.ARN || f.AwsAccountID != h.product.Account {
			errs = append(errs, fmt.Errorf("%w finding %q: product %s account %s, want %s account %s", domain.ErrInvalid, domain.Truncate(f.ID, 120, domain.Ellipsis), f.ProductARN, f.AwsAccountID, h.product.ARN, h.product.Account))
		}
		if seen[f.ID] {
			errs = append(errs, fmt.Errorf("%w: finding %q appears twice", domain.ErrInvalid, domain.Truncate(f.ID, 120, domain.Ellipsis)))
		}
		seen[f.ID] = true
		b, _ := json.Marshal(f) // Validate encoded it already
		encoded[i] = b
	}
	if len(errs) > 0 {
		return fmt.Errorf("import findings: %w", errors.Join(errs...))
	}

	var failed []FailedFinding
	for start := 0; start < len(findings); {
		end, size := start, 0
		for end < len(findings) && end-start < MaxBatch && (end == start || size+len(encoded[end]) <= h.maxBatchBytes) {
			size += len(encoded[end])
			end++
		}
		batch := make([]types.AwsSecurityFinding, 0, end-start)
		for _, f := range findings[start:end] {
			batch = append(batch, toSDK(f))
		}
		out, err := h.client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
		if err != nil {
			return fmt.Errorf("import findings %d-%d of %d: %w", start+1, end, len(findings), classify(err))
		}
		for _, ff := range out.FailedFindings {
			failed = append(failed, FailedFinding{ID: aws.ToString(ff.Id), Code: aws.ToString(ff.ErrorCode), Message: aws.ToString(ff.ErrorMessage)})
		}
		if n := aws.ToInt32(out.FailedCount); int(n) > len(out.FailedFindings) {
			// The count says more than the list names: report the rest too.
			for range int(n) - len(out.FailedFindings) {
				failed = append(failed, FailedFinding{Code: "Unknown", Message: "counted in FailedCount but not listed"})
			}
		}
		start = end
	}
	if len(failed) > 0 {
		return fmt.Errorf("import %d findings: %w", len(findings), &ImportError{Failed: failed})
	}
	return nil
}

// Findings returns every finding of the hub's product whose Id starts with
// idPrefix, in either record state. The filter is applied by Security Hub
// and again here, so a result never holds another product's findings or
// another prefix's.
func (h *Hub) Findings(ctx context.Context, idPrefix string) ([]Finding, error) {
	if idPrefix == "" {
		return nil, fmt.Errorf("get findings: %w: empty Id prefix", domain.ErrInvalid)
	}
	in := &securityhub.GetFindingsInput{
		Filters: &types.AwsSecurityFindingFilters{
			ProductArn: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(h.product.ARN)}},
			Id:         []types.StringFilter{{Comparison: types.StringFilterComparisonPrefix, Value: aws.String(idPrefix)}},
		},
		MaxResults: aws.Int32(MaxBatch),
	}
	var out []Finding
	seenTokens := map[string]bool{}
	for {
		page, err := h.client.GetFindings(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get findings %s*: %w", domain.Truncate(idPrefix, 160, domain.Ellipsis), classify(err))
		}
		for _, f := range page.Findings {
			if aws.ToString(f.ProductArn) != h.product.ARN || !strings.HasPrefix(aws.ToString(f.Id), idPrefix) {
				continue
			}
			out = append(out, fromSDK(f))
		}
		next := aws.ToString(page.NextToken)
		if next == "" || seenTokens[next] {
			return out, nil
		}
		seenTokens[next] = true
		in.NextToken = aws.String(next)
	}
}

// classify wraps the SDK errors that no retry cures: an invalid request
// (domain.ErrInvalid) and a hub that is not enabled (ErrNotEnabled).
func classify(err error) error {
	var invalid *types.InvalidInputException
	var access *types.InvalidAccessException
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("%w request: %w", domain.ErrInvalid, err)
	case errors.As(err, &access):
		return fmt.Errorf("%w: %w", ErrNotEnabled, err)
	}
	return err
}

// SetWorkflow sets the workflow status of the hub product's findings ids to
// status (SUPPRESSED, or NEW when a suppression lapses) with note, in
// batches of MaxBatch (BatchUpdateFindings' limit). Findings Security Hub
// leaves unprocessed make an *ImportError; other errors are classified as
// Import's.
func (h *Hub) SetWorkflow(ctx context.Context, ids []string, status string, note Note) error {
	if !workflowRE.MatchString(status) || note.Text == "" || len(note.Text) > MaxNoteLen || note.UpdatedBy == "" || len(note.UpdatedBy) > MaxNoteLen {
		return fmt.Errorf("set workflow: %w: status %q, note of %d and %d characters", domain.ErrInvalid, status, len(note.Text), len(note.UpdatedBy))
	}
	var failed []FailedFinding
	for start := 0; start < len(ids); start += MaxBatch {
		chunk := ids[start:min(start+MaxBatch, len(ids))]
		in := &securityhub.BatchUpdateFindingsInput{
			Workflow: &types.WorkflowUpdate{Status: types.WorkflowStatus(status)},
			Note:     &types.NoteUpdate{Text: aws.String(note.Text), UpdatedBy: aws.String(note.UpdatedBy)},
		}
		for _, id := range chunk {
			in.FindingIdentifiers = append(in.FindingIdentifiers, types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(h.product.ARN)})
		}
		out, err := h.client.BatchUpdateFindings(ctx, in)
		if err != nil {
			return fmt.Errorf("set workflow %s on %d findings: %w", status, len(chunk), classify(err))
		}
		for _, u := range out.UnprocessedFindings {
			id := ""
			if u.FindingIdentifier != nil {
				id = aws.ToString(u.FindingIdentifier.Id)
			}
			failed = append(failed, FailedFinding{ID: id, Code: aws.ToString(u.ErrorCode), Message: aws.ToString(u.ErrorMessage)})
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("set workflow %s: %w", status, &ImportError{Failed: failed})
	}
	return nil
}
