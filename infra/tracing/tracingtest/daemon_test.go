package tracingtest

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	const doc = `{"name":"archive","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.5,"end_time":2,"annotations":{"scan_id":"s1"},"subsegments":[{"name":"S3","id":"70de5b6f19ff9a0b","namespace":"aws","aws":{"operation":"PutObject"},"start_time":1.6,"end_time":1.7}]}`
	tests := []struct {
		name     string
		datagram string
		wantErr  string
	}{
		{name: "the SDK's header", datagram: `{"format": "json", "version": 1}` + "\n" + doc},
		{name: "compact header", datagram: `{"format":"json","version":1}` + "\n" + doc},
		{name: "no header line", datagram: doc, wantErr: "header"},
		{name: "wrong format", datagram: `{"format":"protobuf","version":1}` + "\n" + doc, wantErr: "header"},
		{name: "broken document", datagram: `{"format":"json","version":1}` + "\n{", wantErr: "segment document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Decode([]byte(tc.datagram))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Decode error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "archive" || d.Annotation("scan_id") != "s1" || d.Duration() != 500*time.Millisecond {
				t.Errorf("decoded %+v", d)
			}
			s3, ok := d.Find("S3")
			if !ok || s3.Operation() != "PutObject" || s3.Namespace != "aws" {
				t.Errorf("nested call %+v (found %v)", s3, ok)
			}
		})
	}
}

func TestDaemonKeepsDecodedDatagrams(t *testing.T) {
	d := Listen(t)
	conn, err := net.Dial("udp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, msg := range []string{
		`{"format":"json","version":1}` + "\n" + `{"name":"a","id":"1","trace_id":"t"}`,
		"garbage",
		`{"format":"json","version":1}` + "\n" + `{"name":"b","id":"2","trace_id":"t"}`,
	} {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	docs := d.Wait(t, 5*time.Second, "two documents", func(docs []Document) bool { return len(docs) == 2 })
	if docs[0].Name != "a" || docs[1].Name != "b" {
		t.Errorf("documents %v", docs)
	}
	if errs := d.Errors(); len(errs) != 1 {
		t.Errorf("errors %v, want the garbage one", errs)
	}
}

func TestTree(t *testing.T) {
	const trace = "1-581cf771-a006649127e371903a2de979"
	docs := []Document{
		// An archive segment under the scan function's segment, which was
		// never sent here.
		{Name: "archive", ID: "a1", TraceID: trace, ParentID: "f1", StartTime: 10.5, EndTime: 10.6,
			Annotations: map[string]any{"handler": "archive", "image_digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"},
			Subsegments: []Document{{Name: "S3", ID: "a2", Namespace: "aws", AWS: map[string]any{"operation": "PutObject"}, StartTime: 10.51, EndTime: 10.52}}},
		{Name: "decode", ID: "d1", TraceID: trace, ParentID: "f1", Type: "subsegment", StartTime: 10.0, EndTime: 10.001},
		// A subsegment streamed on its own, under a received one.
		{Name: "DynamoDB", ID: "a3", TraceID: trace, ParentID: "a1", Type: "subsegment", Namespace: "aws", AWS: map[string]any{"operation": "PutItem"}, StartTime: 10.53, EndTime: 10.54, Fault: true},
	}
	got := Tree(docs)
	want := `trace 1-581cf771-a006649127e371903a2de979
└─ f1 (not sent to this daemon)
   ├─ decode  +0.0ms 1.0ms
   └─ archive  [segment]  +500.0ms 100.0ms  {handler=archive image_digest=sha256:5b0bcabd1ed2…}
      ├─ S3 PutObject  +510.0ms 10.0ms
      └─ DynamoDB PutItem  +530.0ms 10.0ms  FAULT
`
	if got != want {
		t.Errorf("Tree =\n%s\nwant\n%s", got, want)
	}
}
