package s3store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const testBucket = "reports-bucket"

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeReportMatchesMarshal(t *testing.T) {
	cases := []struct {
		name string
		r    *domain.Report
	}{
		{"full", sampleReport()},
		{"digest only", &domain.Report{Digest: testDigest}},
		{"zero report", &domain.Report{}},
		{"vulnerabilities without secrets", &domain.Report{Digest: testDigest, Vulnerabilities: sampleReport().Vulnerabilities}},
		{"large", testkit.LargeReport(500)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := encodeReport(&buf, tc.r); err != nil {
				t.Fatalf("encodeReport: %v", err)
			}
			plain := gunzip(t, buf.Bytes())
			if !json.Valid(plain) {
				t.Fatalf("not valid JSON: %.200s", plain)
			}
			// Same document as encoding/json would write for the report.
			want, err := json.Marshal(normalized(tc.r))
			if err != nil {
				t.Fatal(err)
			}
			var got, exp any
			if err := json.Unmarshal(plain, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &exp); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("streamed JSON differs from json.Marshal:\n got %.300s\nwant %.300s", plain, want)
			}
			back, err := decodeReport(bytes.NewReader(buf.Bytes()), MaxReportSize)
			if err != nil {
				t.Fatalf("decodeReport: %v", err)
			}
			if !reflect.DeepEqual(back, normalized(tc.r)) {
				t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, normalized(tc.r))
			}
		})
	}
}

func TestEncodeReportIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := encodeReport(&a, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if err := encodeReport(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two encodings of the same report differ, so a retried put would not be idempotent")
	}
}

func TestNewReports(t *testing.T) {
	cases := []struct {
		name    string
		client  ObjectAPI
		bucket  string
		wantErr string
	}{
		{"ok", testkit.NewMemoryObjects(), "scan-reports-123", ""},
		{"nil client", nil, "scan-reports", "nil S3 client"},
		{"empty bucket", testkit.NewMemoryObjects(), "", "invalid bucket name"},
		{"uppercase bucket", testkit.NewMemoryObjects(), "Reports", "invalid bucket name"},
		{"bucket with slash", testkit.NewMemoryObjects(), "a/b", "invalid bucket name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReports(tc.client, tc.bucket)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewReports: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewReports error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestPutReportWritesEncryptedGzipUnderDeterministicKey(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	store, err := NewReports(fake, testBucket)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := store.PutReport(context.Background(), "0123abcd", sampleReport())
	if err != nil {
		t.Fatalf("PutReport: %v", err)
	}
	wantKey := "reports/" + testDigest.Hex() + "/0123abcd.json.gz"
	if loc != (domain.ReportLocation{Bucket: testBucket, Key: wantKey}) {
		t.Errorf("location = %+v, want bucket %s key %s", loc, testBucket, wantKey)
	}
	if len(fake.Puts()) != 1 {
		t.Fatalf("%d puts, want 1", len(fake.Puts()))
	}
	in := fake.Puts()[0]
	if in.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("ServerSideEncryption = %q, want AES256", in.ServerSideEncryption)
	}
	if got := aws.ToString(in.ContentType); got != "application/json" {
		t.Errorf("ContentType = %q", got)
	}
	if got := aws.ToString(in.ContentEncoding); got != "gzip" {
		t.Errorf("ContentEncoding = %q", got)
	}
	var r domain.Report
	if err := json.Unmarshal(gunzip(t, object(t, fake, testBucket, wantKey)), &r); err != nil {
		t.Fatalf("stored object is not gzip JSON of a report: %v", err)
	}
	if !reflect.DeepEqual(&r, sampleReport()) {
		t.Errorf("stored report = %+v", r)
	}
}

func TestPutReportTwiceIsIdempotent(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	store, _ := NewReports(fake, testBucket)
	ctx := context.Background()
	loc1, err := store.PutReport(ctx, "scan-1", sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	first := object(t, fake, loc1.Bucket, loc1.Key)
	loc2, err := store.PutReport(ctx, "scan-1", sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	if loc1 != loc2 {
		t.Errorf("second put went to %+v, first to %+v", loc2, loc1)
	}
	if !bytes.Equal(first, object(t, fake, loc2.Bucket, loc2.Key)) {
		t.Error("second put changed the object's bytes")
	}
}

func TestPutReportRejectsBadInput(t *testing.T) {
	cases := []struct {
		name   string
		scanID string
		r      *domain.Report
	}{
		{"nil report", "scan-1", nil},
		{"missing digest", "scan-1", &domain.Report{}},
		{"malformed digest", "scan-1", &domain.Report{Digest: "sha256:abc"}},
		{"empty scan ID", "", sampleReport()},
		{"scan ID with slash", "a/b", sampleReport()},
		{"scan ID escaping the prefix", "..", sampleReport()},
		{"scan ID with space", "a b", sampleReport()},
		{"overlong scan ID", strings.Repeat("a", 129), sampleReport()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := testkit.NewMemoryObjects()
			store, _ := NewReports(fake, testBucket)
			_, err := store.PutReport(context.Background(), tc.scanID, tc.r)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("PutReport error = %v, want one wrapping domain.ErrInvalid", err)
			}
			if len(fake.Puts()) != 0 {
				t.Errorf("bad input still wrote %d objects", len(fake.Puts()))
			}
		})
	}
}

func TestPutReportWrapsClientError(t *testing.T) {
	fake := testkit.NewMemoryObjects()
	fake.FailPuts(errors.New("access denied"))
	store, _ := NewReports(fake, testBucket)
	_, err := store.PutReport(context.Background(), "scan-1", sampleReport())
	if err == nil || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "s3://"+testBucket+"/reports/") {
		t.Errorf("error = %v, want the cause and the object's address", err)
	}
}

func TestGetReport(t *testing.T) {
	plainJSON, _ := json.Marshal(sampleReport())
	cases := []struct {
		name    string
		body    []byte // nil: no object
		loc     domain.ReportLocation
		want    *domain.Report
		wantIs  error
		wantErr string
	}{
		{name: "gzip", body: gzipBytes(t, plainJSON), want: sampleReport()},
		{name: "already inflated by the transport", body: plainJSON, want: sampleReport()},
		{name: "trailing whitespace", body: gzipBytes(t, append(append([]byte{}, plainJSON...), " \n\n"...)), want: sampleReport()},
		{name: "missing object", wantIs: domain.ErrNotFound, wantErr: "no such object"},
		{name: "empty location", loc: domain.ReportLocation{}, body: []byte("{}"), wantIs: domain.ErrInvalid},
		{name: "not JSON", body: gzipBytes(t, []byte("<html>")), wantErr: "decode report"},
		{name: "two JSON values", body: gzipBytes(t, append(append([]byte{}, plainJSON...), plainJSON...)), wantErr: "trailing data"},
		{name: "truncated gzip", body: gzipBytes(t, plainJSON)[:40], wantErr: "unexpected EOF"},
		{name: "corrupt checksum", body: corruptTrailer(gzipBytes(t, plainJSON)), wantErr: "checksum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := testkit.NewMemoryObjects()
			store, _ := NewReports(fake, testBucket)
			loc := tc.loc
			if tc.name != "empty location" {
				loc = domain.ReportLocation{Bucket: testBucket, Key: "reports/x/scan.json.gz"}
			}
			if tc.body != nil {
				fake.Put(testBucket, "reports/x/scan.json.gz", tc.body)
			}
			got, err := store.GetReport(context.Background(), loc)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("GetReport: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("GetReport = %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatal("GetReport succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantIs)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// corruptTrailer flips a bit of the CRC-32 in a gzip trailer.
func corruptTrailer(b []byte) []byte {
	c := append([]byte{}, b...)
	c[len(c)-8] ^= 0xff
	return c
}

func TestGetReportStopsAGzipBomb(t *testing.T) {
	// 16 MiB of digits inside a JSON string compress to about 16 KiB.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = io.WriteString(zw, `{"digest":"`+string(testDigest)+`","os":"`)
	zeros := make([]byte, 1<<20)
	for i := range zeros {
		zeros[i] = '0'
	}
	for range 16 {
		_, _ = zw.Write(zeros)
	}
	_, _ = io.WriteString(zw, `"}`)
	_ = zw.Close()

	fake := testkit.NewMemoryObjects()
	fake.Put(testBucket, "bomb.json.gz", buf.Bytes())
	store, _ := NewReports(fake, testBucket)
	store.maxBytes = 1 << 20
	_, err := store.GetReport(context.Background(), domain.ReportLocation{Bucket: testBucket, Key: "bomb.json.gz"})
	if !errors.Is(err, ErrReportTooLarge) {
		t.Fatalf("error = %v, want ErrReportTooLarge", err)
	}
}

func TestLimitReader(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		limit    int64
		exceeded bool
	}{
		{"under", 10, 11, false},
		{"exactly at the limit", 11, 11, false},
		{"one over", 12, 11, true},
		{"zero limit, empty input", 0, 0, false},
		{"zero limit, one byte", 1, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lr := &limitReader{r: bytes.NewReader(make([]byte, tc.size)), left: tc.limit}
			n, err := io.Copy(io.Discard, lr)
			if tc.exceeded {
				if !errors.Is(err, ErrReportTooLarge) || n > tc.limit {
					t.Errorf("read %d bytes, err %v; want at most %d and ErrReportTooLarge", n, err, tc.limit)
				}
				return
			}
			if err != nil || n != int64(tc.size) {
				t.Errorf("read %d bytes, err %v; want %d, nil", n, err, tc.size)
			}
		})
	}
}
