package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MemoryObjects is an in-memory bucket behind the S3 calls s3store makes
// (s3store.ObjectAPI, s3store.ArchiveAPI), so a benchmark runs the real
// encoding and decoding of reports without moto. It keeps the bytes as they
// were put (a report stays gzip-compressed, as in S3) and, for archives,
// only their size when told to (KeepSizesOnly), so a benchmark of a large
// archive measures the function and not the fake. Safe for concurrent use.
type MemoryObjects struct {
	mu        sync.Mutex
	objects   map[string][]byte
	sizes     map[string]int64
	sizesOnly bool
	puts      []*s3.PutObjectInput
	putErr    error
}

// NewMemoryObjects returns an empty bucket.
func NewMemoryObjects() *MemoryObjects {
	return &MemoryObjects{objects: map[string][]byte{}, sizes: map[string]int64{}}
}

// KeepSizesOnly makes later puts read their body through and record only its
// size.
func (m *MemoryObjects) KeepSizesOnly() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sizesOnly = true
}

// PutObject stores the body under bucket/key; a ContentLength that differs
// from the body is an error, as S3 would refuse it.
func (m *MemoryObjects) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	name := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	m.mu.Lock()
	sizesOnly, putErr := m.sizesOnly, m.putErr
	m.mu.Unlock()
	if putErr != nil {
		return nil, putErr
	}
	var body []byte
	var n int64
	var err error
	if sizesOnly {
		n, err = io.Copy(io.Discard, in.Body)
	} else {
		body, err = io.ReadAll(in.Body)
		n = int64(len(body))
	}
	if err != nil {
		return nil, fmt.Errorf("memory objects: read body of %s: %w", name, err)
	}
	if in.ContentLength != nil && *in.ContentLength != n {
		return nil, fmt.Errorf("memory objects: %s: content length %d, body %d bytes", name, *in.ContentLength, n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sizes[name] = n
	m.puts = append(m.puts, in)
	if !sizesOnly {
		m.objects[name] = body
	}
	return &s3.PutObjectOutput{}, nil
}

// GetObject returns what was put, or NoSuchKey.
func (m *MemoryObjects) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{Message: aws.String("memory objects: no such key")}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ContentLength: aws.Int64(int64(len(b)))}, nil
}

// Size is the size of the object at bucket/key as put, and whether one was.
func (m *MemoryObjects) Size(bucket, key string) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.sizes[bucket+"/"+key]
	return n, ok
}

// Object is the body put at bucket/key, unless only sizes were kept.
func (m *MemoryObjects) Object(bucket, key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[bucket+"/"+key]
	return b, ok
}

// Put stores body at bucket/key as if it had been put (a test's fixture).
func (m *MemoryObjects) Put(bucket, key string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[bucket+"/"+key] = body
	m.sizes[bucket+"/"+key] = int64(len(body))
}

// Puts are the PutObject requests that succeeded, in order.
func (m *MemoryObjects) Puts() []*s3.PutObjectInput {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*s3.PutObjectInput(nil), m.puts...)
}

// FailPuts makes every later PutObject return err; nil lets them through.
func (m *MemoryObjects) FailPuts(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putErr = err
}
