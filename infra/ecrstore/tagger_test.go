package ecrstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

const taggerTestDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func taggerTestSummary(at time.Time) ScanSummary {
	return ScanSummary{
		Digest:          taggerTestDigest,
		ScanID:          "scan-1",
		ScannedAt:       at,
		QScannerVersion: "4.1.0",
		Platform:        "linux/amd64",
		Summary: domain.Summary{
			Vulnerabilities: domain.Counts{Critical: 2, High: 3, Medium: 1, Unknown: 1},
			Fixable:         domain.Counts{Critical: 1},
			Secrets:         1,
			SecretSeverity:  domain.Counts{High: 1},
		},
	}
}

func TestScanSummaryLabels(t *testing.T) {
	// A time zone other than UTC, late in the day, so that the date would
	// differ if it were not taken in UTC.
	at := time.Date(2024, 5, 1, 22, 30, 0, 123000000, time.FixedZone("EDT", -4*3600))
	got := taggerTestSummary(at).Labels()
	want := map[string]string{
		"qualys:scanned":         "true",
		"qualys:scan-date":       "2024-05-02",
		"qualys:scan-time":       "2024-05-02T02:30:00.123Z",
		"qualys:vulnerabilities": "7",
		"qualys:critical":        "2",
		"qualys:last-digest":     taggerTestDigest,
		"qualys:suppressed":      "0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Labels() = %v, want %v", got, want)
	}
	for k, v := range got {
		if taggerSanitize(v) != v {
			t.Errorf("label %s=%q is outside ECR's tag value rule", k, v)
		}
	}
}

func TestTaggerSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "every allowed character", in: "azAZ09 _.:/=+-@", want: "azAZ09 _.:/=+-@"},
		{name: "digest", in: taggerTestDigest, want: taggerTestDigest},
		{name: "punctuation", in: `a,b;c"d'e(f)`, want: "a_b_c_d_e_f_"},
		{name: "control characters", in: "a\nb\tc\x00", want: "a_b_c_"},
		{name: "one underscore per character, not per byte", in: "café→ok", want: "caf__ok"},
		{name: "invalid UTF-8", in: "a\xffb", want: "a_b"},
		{name: "cut to 256 characters", in: strings.Repeat("x", 300), want: strings.Repeat("x", 256)},
		{name: "cut counts characters", in: strings.Repeat("é", 300), want: strings.Repeat("_", 256)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := taggerSanitize(tc.in); got != tc.want {
				t.Errorf("taggerSanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRepositoryRefARN(t *testing.T) {
	tests := []struct {
		name, region, want string
	}{
		{name: "commercial", region: "eu-west-1", want: "arn:aws:ecr:eu-west-1:123456789012:repository/team/app"},
		{name: "china", region: "cn-north-1", want: "arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/app"},
		{name: "govcloud", region: "us-gov-west-1", want: "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/team/app"},
		{name: "iso", region: "us-iso-east-1", want: "arn:aws-iso:ecr:us-iso-east-1:123456789012:repository/team/app"},
		{name: "iso-b", region: "us-isob-east-1", want: "arn:aws-iso-b:ecr:us-isob-east-1:123456789012:repository/team/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RepositoryRef{Account: "123456789012", Region: tc.region, Name: "team/app"}.ARN()
			if got != tc.want {
				t.Errorf("ARN() = %q, want %q", got, tc.want)
			}
		})
	}
}

// taggerFakeECR is a hand-written fake of the tagging calls.
type taggerFakeECR struct {
	tags    map[string]map[string]string // by ARN
	err     error
	regions []string // the region each call was sent to
}

func (f *taggerFakeECR) region(optFns []func(*ecr.Options)) {
	var o ecr.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.regions = append(f.regions, o.Region)
}

func (f *taggerFakeECR) TagResource(_ context.Context, in *ecr.TagResourceInput, optFns ...func(*ecr.Options)) (*ecr.TagResourceOutput, error) {
	f.region(optFns)
	if f.err != nil {
		return nil, f.err
	}
	arn := aws.ToString(in.ResourceArn)
	if f.tags[arn] == nil {
		f.tags[arn] = map[string]string{}
	}
	for _, tag := range in.Tags {
		f.tags[arn][aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return &ecr.TagResourceOutput{}, nil
}

func (f *taggerFakeECR) ListTagsForResource(_ context.Context, in *ecr.ListTagsForResourceInput, optFns ...func(*ecr.Options)) (*ecr.ListTagsForResourceOutput, error) {
	f.region(optFns)
	if f.err != nil {
		return nil, f.err
	}
	var out ecr.ListTagsForResourceOutput
	for k, v := range f.tags[aws.ToString(in.ResourceArn)] {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return &out, nil
}

func TestNewTaggerRejectsNilClient(t *testing.T) {
	if _, err := NewTagger(nil); err == nil {
		t.Error("NewTagger(nil) succeeded")
	}
}

func TestTaggerWritesLabelsToTheRepositoryARNInItsRegion(t *testing.T) {
	fake := &taggerFakeECR{tags: map[string]map[string]string{}}
	tagger, err := NewTagger(fake)
	if err != nil {
		t.Fatal(err)
	}
	repo := RepositoryRef{Account: "123456789012", Region: "eu-central-1", Name: "team/app"}
	s := taggerTestSummary(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	if err := tagger.TagRepository(context.Background(), repo, s); err != nil {
		t.Fatalf("TagRepository: %v", err)
	}
	arn := "arn:aws:ecr:eu-central-1:123456789012:repository/team/app"
	if !reflect.DeepEqual(fake.tags[arn], s.Labels()) {
		t.Errorf("tags on %s = %v, want %v", arn, fake.tags[arn], s.Labels())
	}
	if want := []string{"eu-central-1"}; !reflect.DeepEqual(fake.regions, want) {
		t.Errorf("calls sent to regions %v, want %v", fake.regions, want)
	}
}

func TestTaggerLastScan(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 5, time.UTC)
	repo := RepositoryRef{Account: "123456789012", Region: "us-east-1", Name: "team/app"}
	tests := []struct {
		name   string
		tags   map[string]string
		want   RecordedScan
		wantOK bool
	}{
		{name: "no tags"},
		{name: "other tags only", tags: map[string]string{"owner": "team"}},
		{
			name:   "labels",
			tags:   taggerTestSummary(at).Labels(),
			want:   RecordedScan{ScannedAt: at, Digest: taggerTestDigest},
			wantOK: true,
		},
		{
			name: "unreadable scan time",
			tags: map[string]string{LabelScanTime: "yesterday", LabelLastDigest: taggerTestDigest},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &taggerFakeECR{tags: map[string]map[string]string{repo.ARN(): tc.tags}}
			tagger, _ := NewTagger(fake)
			got, ok, err := tagger.LastScan(context.Background(), repo)
			if err != nil {
				t.Fatalf("LastScan: %v", err)
			}
			if ok != tc.wantOK || !got.ScannedAt.Equal(tc.want.ScannedAt) || got.Digest != tc.want.Digest {
				t.Errorf("LastScan = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestTaggerErrors(t *testing.T) {
	repo := RepositoryRef{Account: "123456789012", Region: "us-east-1", Name: "team/app"}
	tests := []struct {
		name              string
		err               error
		notFound, invalid bool
		repoName          string
	}{
		{name: "repository not found", err: &types.RepositoryNotFoundException{Message: aws.String("gone")}, notFound: true},
		{name: "too many tags", err: &types.TooManyTagsException{Message: aws.String("50")}, invalid: true},
		{name: "invalid tag", err: &types.InvalidTagParameterException{Message: aws.String("bad")}, invalid: true},
		{name: "invalid parameter", err: &types.InvalidParameterException{Message: aws.String("bad")}, invalid: true},
		{name: "throttled", err: errors.New("ThrottlingException: slow down")},
		{name: "server error", err: &types.ServerException{Message: aws.String("oops")}},
		{name: "bad repository name", repoName: "Bad Name", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &taggerFakeECR{tags: map[string]map[string]string{}, err: tc.err}
			tagger, _ := NewTagger(fake)
			r := repo
			if tc.repoName != "" {
				r.Name = tc.repoName
			}
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded", op)
				}
				if errors.Is(err, domain.ErrNotFound) != tc.notFound || errors.Is(err, domain.ErrInvalid) != tc.invalid {
					t.Errorf("%s: %v: not found %v, invalid %v; want %v, %v", op, err,
						errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrInvalid), tc.notFound, tc.invalid)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("%s: %v does not wrap ECR's error", op, err)
				}
			}
			check("TagRepository", tagger.TagRepository(context.Background(), r, taggerTestSummary(time.Now())))
			_, _, err := tagger.LastScan(context.Background(), r)
			check("LastScan", err)
		})
	}
}

func TestTaggerRejectsAnIncompleteSummary(t *testing.T) {
	fake := &taggerFakeECR{tags: map[string]map[string]string{}}
	tagger, _ := NewTagger(fake)
	repo := RepositoryRef{Account: "123456789012", Region: "us-east-1", Name: "team/app"}
	tests := []struct {
		name   string
		change func(*ScanSummary)
	}{
		{name: "no digest", change: func(s *ScanSummary) { s.Digest = "" }},
		{name: "bad digest", change: func(s *ScanSummary) { s.Digest = "sha256:abc" }},
		{name: "no scan ID", change: func(s *ScanSummary) { s.ScanID = "" }},
		{name: "no scan time", change: func(s *ScanSummary) { s.ScannedAt = time.Time{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := taggerTestSummary(time.Now())
			tc.change(&s)
			err := tagger.TagRepository(context.Background(), repo, s)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("TagRepository = %v, want an error wrapping domain.ErrInvalid", err)
			}
			if len(fake.regions) != 0 {
				t.Errorf("ECR was called %d times", len(fake.regions))
			}
		})
	}
}

// TestMotoTagger runs the tagger against moto's ECR with the real SDK client.
func TestMotoTagger(t *testing.T) {
	client := ecr.NewFromConfig(mototest.Config(t))
	ctx := context.Background()
	name := mototest.UniqueName("tag/app")
	account, err := mototest.CreateRepository(ctx, client, name)
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	repo := RepositoryRef{Account: account, Region: mototest.Region, Name: name}
	tagger, err := NewTagger(client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.TagResource(ctx, &ecr.TagResourceInput{
		ResourceArn: aws.String(repo.ARN()),
		Tags:        []types.Tag{{Key: aws.String("owner"), Value: aws.String("team-a")}},
	}); err != nil {
		t.Fatalf("TagResource owner: %v", err)
	}

	if _, ok, err := tagger.LastScan(ctx, repo); err != nil || ok {
		t.Fatalf("LastScan before tagging = %v, %v; want nothing recorded", ok, err)
	}

	first := taggerTestSummary(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	second := first
	second.Digest = domain.Digest("sha256:" + strings.Repeat("b", 64))
	second.ScanID = "scan-2"
	second.ScannedAt = first.ScannedAt.Add(36 * time.Hour)
	second.Summary = domain.Summary{}

	for _, s := range []ScanSummary{first, second} {
		if err := tagger.TagRepository(ctx, repo, s); err != nil {
			t.Fatalf("TagRepository %s: %v", s.ScanID, err)
		}
		out, err := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repo.ARN())})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		got := map[string]string{}
		for _, tag := range out.Tags {
			got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		want := s.Labels()
		want["owner"] = "team-a"
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after %s the repository's tags are %v, want %v", s.ScanID, got, want)
		}
		rec, ok, err := tagger.LastScan(ctx, repo)
		if err != nil || !ok || !rec.ScannedAt.Equal(s.ScannedAt) || rec.Digest != s.Digest.String() {
			t.Errorf("LastScan after %s = %+v, %v, %v; want %v %s", s.ScanID, rec, ok, err, s.ScannedAt, s.Digest)
		}
	}

	missing := RepositoryRef{Account: account, Region: mototest.Region, Name: mototest.UniqueName("tag/missing")}
	if err := tagger.TagRepository(ctx, missing, first); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("TagRepository on a missing repository = %v, want domain.ErrNotFound", err)
	}
	if _, _, err := tagger.LastScan(ctx, missing); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("LastScan on a missing repository = %v, want domain.ErrNotFound", err)
	}
}
