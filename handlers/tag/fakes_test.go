package main

import (
	"context"
	"sync"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
)

// fakeTagger keeps one recorded scan per repository, as the repository's
// tags would.
type fakeTagger struct {
	mu        sync.Mutex
	recorded  map[string]ecrstore.RecordedScan // by repository name
	written   []string                         // repository names, in order
	summaries map[string]ecrstore.ScanSummary  // last written, by repository name
	readErr   map[string]error
	writeErr  map[string]error
}

func newFakeTagger() *fakeTagger {
	return &fakeTagger{
		recorded:  map[string]ecrstore.RecordedScan{},
		summaries: map[string]ecrstore.ScanSummary{},
		readErr:   map[string]error{},
		writeErr:  map[string]error{},
	}
}

func (f *fakeTagger) LastScan(_ context.Context, repo ecrstore.RepositoryRef) (ecrstore.RecordedScan, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readErr[repo.Name]; err != nil {
		return ecrstore.RecordedScan{}, false, err
	}
	rec, ok := f.recorded[repo.Name]
	return rec, ok, nil
}

func (f *fakeTagger) TagRepository(_ context.Context, repo ecrstore.RepositoryRef, s ecrstore.ScanSummary) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.writeErr[repo.Name]; err != nil {
		return err
	}
	f.written = append(f.written, repo.Name)
	f.summaries[repo.Name] = s
	f.recorded[repo.Name] = ecrstore.RecordedScan{ScannedAt: s.ScannedAt, Digest: s.Digest.String()}
	return nil
}

// fakeAttacher records the images it was asked to attach a summary to.
type fakeAttacher struct {
	mu       sync.Mutex
	attached []domain.ImageRef
	err      map[string]error // by repository name
}

func newFakeAttacher() *fakeAttacher { return &fakeAttacher{err: map[string]error{}} }

func (f *fakeAttacher) PutSummary(_ context.Context, ref domain.ImageRef, s ecrstore.ScanSummary) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.err[ref.Repository]; err != nil {
		return "", err
	}
	f.attached = append(f.attached, ref)
	return "sha256:" + s.Digest.Hex(), nil
}
