package qscanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"ecrscanner/infra/ops/testkit"
)

// compareFast decodes b with the reference decoder (decodeSARIF) and with
// the fast path, the latter both from a plain reader and one byte per read
// (every value then straddles the lexer's refills). The fast path must either
// leave the input to the reference (errSlowPath) or give exactly its report;
// it must never accept what the reference refuses. It reports whether the
// fast path read the input itself.
func compareFast(t *testing.T, name string, b []byte) (taken bool) {
	return compareFastReaders(t, name, b, true)
}

// compareFastReaders is compareFast, the byte-at-a-time read only if oneByte.
func compareFastReaders(t *testing.T, name string, b []byte, oneByte bool) (taken bool) {
	t.Helper()
	ref, refErr := decodeSARIF(context.Background(), bytes.NewReader(b))
	readers := []io.Reader{bytes.NewReader(b)}
	if oneByte {
		readers = append(readers, iotest.OneByteReader(bytes.NewReader(b)))
	}
	for i, r := range readers {
		got, err := decodeSARIFFast(context.Background(), r)
		switch {
		case errors.Is(err, errSlowPath):
			if got != nil {
				t.Fatalf("%s: fast path left the input with a report", name)
			}
			if i == 1 && taken {
				t.Fatalf("%s: fast path read the input whole but not one byte at a time", name)
			}
			continue
		case err != nil:
			t.Fatalf("%s: fast path error %v: it must leave errors to the reference", name, err)
		case refErr != nil:
			t.Fatalf("%s: fast path accepted what the reference refuses (%v)", name, refErr)
		case !reflect.DeepEqual(got, ref):
			t.Fatalf("%s: fast path report differs:\n got %+v\nwant %+v", name, got, ref)
		}
		if i == 1 && !taken {
			t.Fatalf("%s: fast path read the input one byte at a time but not whole", name)
		}
		taken = true
	}
	return taken
}

// fixtureSARIFs is every SARIF file under testdata/qscanner.
func fixtureSARIFs(tb testing.TB) [][]byte {
	return testkit.Files(tb, filepath.Join("..", "..", "testdata", "qscanner", "*", "*"+sarifSuffix))
}

func TestFastSARIFMatchesReferenceOnFixtures(t *testing.T) {
	fixtures := fixtureSARIFs(t)
	if len(fixtures) == 0 {
		t.Fatal("no SARIF fixtures found")
	}
	taken := 0
	for i, b := range fixtures {
		if compareFast(t, fmt.Sprintf("fixture %d", i), b) {
			taken++
		}
		// Every truncation of a fixture, and every byte of it flipped to
		// a character that matters to JSON; one in 13 also read one byte
		// at a time, which is slow.
		for n := range len(b) {
			compareFastReaders(t, fmt.Sprintf("fixture %d cut at %d", i, n), b[:n], n%13 == 0)
		}
		for n := 0; n < len(b); n += 11 {
			for j, c := range []byte(`"\{}[],:0-ent `) {
				mut := bytes.Clone(b)
				mut[n] = c
				compareFastReaders(t, fmt.Sprintf("fixture %d byte %d = %q", i, n, c), mut, (n+j)%13 == 0)
			}
		}
	}
	if taken == 0 {
		t.Fatal("the fast path read none of the fixtures: it is never exercised")
	}
}

func TestFastSARIFMatchesReferenceOnGeneratedReports(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300, 3000} {
		for _, variant := range []genVariant{{}, {resultsFirst: true}, {duplicates: true}, {runs: 3}, {odd: true}, {duplicates: true, odd: true, resultsFirst: true, runs: 2}} {
			name := fmt.Sprintf("%d findings %+v", n, variant)
			if !compareFast(t, name, genSARIF(n, variant)) {
				t.Errorf("%s: fast path not taken on a well-formed report", name)
			}
		}
	}
}

// edgeSARIFs are inputs at the edges the fuzz targets explore: what the
// fast path must read exactly as the reference, or leave to it.
var edgeSARIFs = []string{
	``, ` `, `null`, `[]`, `{}`, `{"runs":null}`, `{"runs":[]}`, `{"runs":{}}`, `{"runs":[null]}`, `{"runs":[{}]}`,
	`{"runs":[{"results":null}]}`, `{"runs":[{"results":[]}]}`, `{"runs":[{"results":[]}]} x`, `{"runs":[{"results":[]}]}{}`,
	"\ufeff" + `{"runs":[{"results":[]}]}`, `{"runs":[{"results":[]}],}`, `{"runs":[{"results":[],}]}`, `{"Runs":[{"results":[]}]}`,
	`{"runs":[{"results":[]}],"runs":[{"results":[]}]}`, `{"r\u0075ns":[{"results":[]}]}`, `{"runs":[{"RESULTS":[{}]}]}`,
	`{"runs":[{"results":[{"ruleId":"1"}],"results":[]}]}`, `{"runs":[{"tool":null,"results":[{}]}]}`,
	`{"runs":[{"tool":{"driver":null},"results":[{}]}]}`, `{"runs":[{"tool":{"driver":{"rules":null}},"results":[{"ruleIndex":0}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":"x"}},"results":[]}]}`, `{"runs":[{"tool":{"driver":{"rules":[null]}},"results":[]}]}`,
	`{"runs":[{"results":[null]}]}`, `{"runs":[{"results":[{"properties":null}]}]}`, `{"runs":[{"results":[{"properties":"x"}]}]}`,
	`{"runs":[{"results":[{"properties":{"vulnerableSoftware":null}}]}]}`, `{"runs":[{"results":[{"properties":{"vulnerableSoftware":{}}}]}]}`,
	`{"runs":[{"results":[{"properties":{"QID":1,"vulnerableSoftware":[null,{"name":"a"},{"name":{"x":1},"installedVersion":[1]}]}}]}]}`,
	`{"runs":[{"results":[{"ruleId":1e400,"properties":{"QID":-0.0e-0}}]}]}`, `{"runs":[{"results":[{"ruleId":01}]}]}`,
	`{"runs":[{"results":[{"ruleId":1.}]}]}`, `{"runs":[{"results":[{"ruleId":-}]}]}`, `{"runs":[{"results":[{"ruleId":.5}]}]}`,
	`{"runs":[{"results":[{"ruleId":"\u00e9\n\t\"\\\/\b\f\r"}]}]}`, `{"runs":[{"results":[{"ruleId":"\x"}]}]}`, `{"runs":[{"results":[{"ruleId":"\u12"}]}]}`,
	"{\"runs\":[{\"results\":[{\"ruleId\":\"a\tb\"}]}]}", "{\"runs\":[{\"results\":[{\"ruleId\":\"\xff\xfe\"}]}]}", "{\"runs\":[{\"results\":[{\"\xffx\":1}]}]}",
	`{"runs":[{"results":[{"ruleId":tru}]}]}`, `{"runs":[{"results":[{"ruleId":nul}]}]}`, `{"runs":[{"results":[{"ruleId":true,"ruleIndex":false}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":[{"id":"1","properties":{"cvssInfo":{"v3":"x"}}},{"id":"1","properties":{"cvssInfo":{"v3":{"baseScore":"9.8"}},"severity":"2"}}]}},"results":[{"ruleId":"1"},{"ruleIndex":1}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":[{"id":"1","properties":{"cvssInfo":null,"cve-ids":"CVE-1"}},{"id":"1","properties":{"cvssInfo":[1],"cve-ids":["CVE-2",null,3]}}]}},"results":[{"ruleId":"1"}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":[{"id":"1","properties":{"cvssInfo":{"v3":null,"V3":{}}}}]}},"results":[{"ruleId":"1"}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":[{"id":"1","shortDescription":{"text":"a","text":"b"},"properties":null}]}},"results":[{"ruleId":"1"}]}]}`,
	`{"runs":[{"tool":{"driver":{"rules":[{"id":"1","shortDescription":"x","properties":{"severity":[5]}}]}},"results":[{"ruleId":"1"}]}]}`,
	`{"runs":[{"properties":{"imageDigest":"sha256:` + strings.Repeat("a", 64) + `","os":{"x":1}},"results":[]}]}`,
	`{"runs":[{"properties":[],"results":[]},{"properties":{"os":"b"},"results":[]}]}`,
	`{"runs":[{"results":[],"x":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}]}`,
	`{"runs":[{"results":[],"x":` + strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat("}", 50) + `}]}`,
	`{"runs":[{"results":[],"x":"\x"}]}`, `{"runs":[{"results":[],"x":["\u12x"]}]}`, "{\"runs\":[{\"results\":[],\"x\":{\"a\":\"\x01\"}}]}",
	`{"runs":[{"results":[],"x":{"a\q":1}}]}`, `{"runs":[{"results":[],"x":[01]}]}`, `{"runs":[{"results":[],"x":[1e]}]}`, `{"runs":[{"results":[],"x":[-a]}]}`,
	`{"runs":[{"results":[],"x":[1.5e+3,-0,0.25E-2,"\ud800",{"\u0041":true}]}]}`, `{"runs":[{"results":[],"x":[truE]}]}`, `{"runs":[{"results":[],"x":{"a":1 "b":2}}]}`,
	`{"runs":[{"results":[],"x":[1,]}]}`, `{"runs":[{"results":[],"x":{"a"}}]}`, `{"runs":[{"results":[],"x":{"a":1,}}]}`, `{"runs":[{"results":[],"x":[}]}`,
}

func TestFastSARIFMatchesReferenceOnEdges(t *testing.T) {
	for i, s := range edgeSARIFs {
		compareFast(t, fmt.Sprintf("edge %d %.60q", i, s), []byte(s))
	}
}

// TestFastSARIFStopsAtTheDeadline: a done context leaves the input to the
// reference decoder, which reports the deadline.
func TestFastSARIFStopsAtTheDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := decodeSARIFFast(ctx, bytes.NewReader(genSARIF(10, genVariant{}))); !errors.Is(err, errSlowPath) {
		t.Fatalf("fast path with a done context: %v, want it left to the reference", err)
	}
}

// FuzzFastSARIF checks compareFast's promise on any input.
func FuzzFastSARIF(f *testing.F) {
	for _, b := range fixtureSARIFs(f) {
		f.Add(b)
	}
	for _, s := range edgeSARIFs {
		f.Add([]byte(s))
	}
	f.Add(genSARIF(5, genVariant{duplicates: true, odd: true, resultsFirst: true, runs: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		compareFast(t, "input", b)
	})
}

// BenchmarkDecodeSARIF20000 compares the fast path with the reference
// decoder on the same 20,000-finding report in memory.
func BenchmarkDecodeSARIF20000(b *testing.B) {
	report := genSARIF(20000, genVariant{resultsFirst: true})
	for _, bc := range []struct {
		name   string
		decode func(context.Context, io.Reader) (*sarifReport, error)
	}{{"fast", decodeSARIFFast}, {"reference", decodeSARIF}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				sa, err := bc.decode(context.Background(), bytes.NewReader(report))
				if err != nil || len(sa.vulnerabilities) != 20000 {
					b.Fatalf("%v, %d findings", err, len(sa.vulnerabilities))
				}
			}
		})
	}
}
