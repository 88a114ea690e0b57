package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/snsnotify"
)

// Each alert goes out with a message per channel (SNS MessageStructure
// json): the readable text for email and everything else by default, the
// custom-notification JSON Amazon Q Developer in chat applications renders
// for "https" (the protocol of its SNS subscriptions), and structured JSON
// for "sqs" and "lambda" subscribers. Filter attributes are the same for
// every channel.
const (
	protoChat = "https"
	protoSQS  = "sqs"
	protoFn   = "lambda"
)

// Bounds per channel, so that every message together stays within SNS's
// 256 KiB whatever the scan holds: text MaxBodyBytes (at most twice that
// once JSON-escaped), chat maxChatBytes, structured maxStructuredBytes for
// each of sqs and lambda (JSON inside JSON: at most twice that escaped).
const (
	maxChatBytes       = 8 << 10
	maxStructuredBytes = 16 << 10
	maxChatDescription = 3500
	maxChatListed      = 5
)

func withChannels(v view, a snsnotify.Alert) snsnotify.Alert {
	structured := structuredMessage(v, a)
	a.Protocols = map[string]string{protoChat: chatMessage(v, a), protoSQS: structured, protoFn: structured}
	return a
}

// chatNotification is Amazon Q Developer in chat applications' custom
// notification: version "1.0", source "custom", content with textType
// "client-markdown", title, description, nextSteps and keywords, and
// metadata (threadId, summary, eventType, relatedResources,
// additionalContext), as
// https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
// documents it.
type chatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  chatContent  `json:"content"`
	Metadata chatMetadata `json:"metadata"`
}

type chatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

type chatMetadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

func chatMessage(v view, a snsnotify.Alert) string {
	kind := a.Attributes[AttrKind]
	n := chatNotification{
		Version: "1.0", Source: "custom", ID: clean(v.ev.ScanID, 64) + "/" + v.repo.Name,
		Content: chatContent{
			TextType:    "client-markdown",
			Title:       a.Subject,
			Description: domain.Truncate(chatDescription(v, kind), maxChatDescription, domain.Ellipsis),
			NextSteps:   []string{"Open the image in the ECR console: " + ConsoleURL(v.ref)},
			Keywords:    []string{a.Attributes[AttrSeverity], kind, v.repo.Name},
		},
		Metadata: chatMetadata{
			// One thread per image and repository, so a later alert about
			// the same image joins the first.
			ThreadID:          v.repo.Name + "@" + v.ev.Digest.String(),
			Summary:           a.Subject,
			EventType:         kind,
			RelatedResources:  []string{v.ref.Name()},
			AdditionalContext: map[string]string{"imageDigest": v.ev.Digest.String(), "scanId": clean(v.ev.ScanID, 64), "account": v.ref.Account, "region": v.ref.Region},
		},
	}
	if r := v.ev.Report; r != nil {
		n.Content.NextSteps = append(n.Content.NextSteps, "Read the full report: s3://"+r.Bucket+"/"+clean(r.Key, 1024))
	}
	if kind != KindScanFailed {
		n.Content.NextSteps = append(n.Content.NextSteps, "Accept a risk for a while: ecrscan suppress add --help")
	}
	return encode(n, maxChatBytes)
}

// chatDescription is the markdown body: what triggered, the worst findings
// and what was suppressed, each list short.
func chatDescription(v view, kind string) string {
	var b strings.Builder
	if kind == KindScanFailed {
		f := domain.Failure{Class: "unknown", Reason: "no failure details recorded"}
		if v.ev.Failure != nil {
			f = *v.ev.Failure
		}
		fmt.Fprintf(&b, "*Scan failed* for `%s`: %s\n%s\n", clean(v.ref.Display(), maxDisplayBytes), clean(f.Reason, maxReasonBytes), failureAdvice(f.Class, v.ev.ScanID))
		return b.String()
	}
	fmt.Fprintf(&b, "*%s* in `%s`\n", triggerPhrase(v.verdict, v.policy), clean(v.ref.Display(), maxDisplayBytes))
	if d := rescanChanges(v); d != nil {
		fmt.Fprintf(&b, "New since the last scan: %s; fixed: %s\n", countList(d.NewVulnerabilities), countList(d.FixedVuln))
	}
	c := v.summary.Vulnerabilities
	fmt.Fprintf(&b, "Critical %d · High %d · Medium %d · Low %d · Secrets %d\n", c.Critical, c.High, c.Medium, c.Low, v.summary.Secrets)
	for i, f := range v.summary.Top {
		if i == maxChatListed || f.Severity < v.policy.MinSeverity {
			break
		}
		fmt.Fprintf(&b, "• %s QID %s %s\n", f.Severity, clean(f.QID, 32), clean(f.Title, 100))
	}
	if s := v.sifted; s != nil && s.Count() > 0 {
		fmt.Fprintf(&b, "Suppressed (not alerting): %d\n", s.Count())
		for i, f := range s.Listed {
			if i == maxChatListed {
				break
			}
			fmt.Fprintf(&b, "• %s %s: %s (until %s)\n", f.Severity, suppressedName(f), clean(f.Reason, 200), f.Expires)
		}
	}
	if v.suppressionNote != "" {
		b.WriteString("_" + v.suppressionNote + "_\n")
	}
	return b.String()
}

// structuredAlert is the JSON sqs and lambda subscribers receive: the
// alert's facts as fields, stable for programs ("schema" names the shape).
type structuredAlert struct {
	Schema     string             `json:"schema"`
	Kind       string             `json:"kind"`
	Severity   string             `json:"severity"`
	EventType  domain.EventType   `json:"eventType"`
	EventID    string             `json:"eventId"`
	ScanID     string             `json:"scanId"`
	Repository string             `json:"repository"`
	Image      string             `json:"image"`
	Digest     domain.Digest      `json:"imageDigest"`
	Tags       []string           `json:"tags"`
	Account    string             `json:"account"`
	Region     string             `json:"region"`
	ScannedAt  string             `json:"scannedAt,omitempty"`
	Summary    *domain.Summary    `json:"summary,omitempty"`
	Verdict    *structuredVerdict `json:"verdict,omitempty"`
	// Cause and Changes: what asked for a scan other than a push, and a
	// rescan's difference from the previous scan (rescan.go).
	Cause      domain.Cause      `json:"cause,omitempty"`
	Changes    *domain.ScanDiff  `json:"changes,omitempty"`
	Secrets    []domain.Secret   `json:"secrets,omitempty"`
	Suppressed *domain.Sifted    `json:"suppressed,omitempty"`
	Failure    *domain.Failure   `json:"failure,omitempty"`
	Policy     structuredPolicy  `json:"policy"`
	Links      map[string]string `json:"links"`
	Notes      []string          `json:"notes,omitempty"`
	Truncated  bool              `json:"truncated,omitempty"`
}

type structuredVerdict struct {
	Vulnerabilities int             `json:"vulnerabilities"`
	Secrets         int             `json:"secrets"`
	Worst           domain.Severity `json:"worst"`
}

type structuredPolicy struct {
	MinSeverity domain.Severity `json:"minSeverity"`
	OnSecrets   bool            `json:"onSecrets"`
	FixableOnly bool            `json:"fixableOnly"`
}

// structuredSchema names the shape of structuredAlert; a change that
// breaks readers gets a new number.
const structuredSchema = "ecr-image-scanner/alert/v1"

func structuredMessage(v view, a snsnotify.Alert) string {
	s := structuredAlert{
		Schema: structuredSchema, Kind: a.Attributes[AttrKind], Severity: a.Attributes[AttrSeverity],
		EventType: v.ev.EventType, EventID: v.ev.EventID, ScanID: v.ev.ScanID,
		Repository: v.repo.Name, Image: v.ref.Name(), Digest: v.ev.Digest, Tags: append([]string{}, v.tags[:min(len(v.tags), maxTagsShown)]...),
		Account: v.ref.Account, Region: v.ref.Region,
		Policy: structuredPolicy{MinSeverity: v.policy.MinSeverity, OnSecrets: v.policy.OnSecrets, FixableOnly: v.policy.FixableOnly},
		Links:  map[string]string{"console": ConsoleURL(v.ref)},
	}
	if f := v.ev.Failure; f != nil {
		clipped := *f
		clipped.Reason = clean(f.Reason, maxReasonBytes)
		s.Failure = &clipped
	}
	if !v.ev.ScannedAt.IsZero() {
		s.ScannedAt = v.ev.ScannedAt.UTC().Format(time.RFC3339)
	}
	if r := v.ev.Report; r != nil {
		s.Links["report"] = "s3://" + r.Bucket + "/" + r.Key
	}
	if s.Kind == KindScanFailed {
		s.Summary = v.ev.Summary
	} else {
		s.Summary, s.Suppressed = &v.summary, v.sifted
		s.Verdict = &structuredVerdict{Vulnerabilities: v.verdict.Vulnerabilities, Secrets: v.verdict.Secrets, Worst: v.verdict.Worst}
		s.Links["archive"] = "s3://" + v.resultsBucket + "/" + s3store.ArchiveKey(v.repo.Name, v.ev.Digest, v.ev.ScannedAt)
		s.Secrets = v.secrets[:min(len(v.secrets), maxSecretsShown)]
		s.Cause, s.Changes = rescanCause(v), rescanChanges(v)
	}
	if v.suppressionNote != "" {
		s.Notes = append(s.Notes, v.suppressionNote)
	}
	out := encode(s, maxStructuredBytes)
	if out == "" {
		// Over the bound (long titles, paths): the lists go, counts stay.
		s.Secrets, s.Truncated = nil, true
		if s.Summary != nil {
			trimmed := *s.Summary
			trimmed.Top = nil
			s.Summary = &trimmed
		}
		if s.Suppressed != nil {
			trimmed := *s.Suppressed
			trimmed.Listed = nil
			s.Suppressed = &trimmed
		}
		out = encode(s, maxStructuredBytes)
	}
	return out
}

// encode is v as JSON without HTML escaping, or "" when it is over limit
// bytes (or cannot be encoded, which the types here rule out).
func encode(v any, limit int) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil || b.Len() > limit {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}
