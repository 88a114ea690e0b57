package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ecrscanner/domain"
)

// checkpointVersion is the version of Checkpoint's JSON.
const checkpointVersion = 1

// Checkpoint is a replay from the scans table: what it re-emits, where to,
// under which replay ID, and how far it got. The runner saves it after each
// page is fully sent, so an interrupted replay resumes after the last such
// page under the same replay ID; events of a page cut short are sent again,
// and handlers deduplicate them because event and replay ID are the same.
type Checkpoint struct {
	Version   int       `json:"version"`
	ReplayID  string    `json:"replayId"`
	Stack     string    `json:"stack"`
	Selection Selection `json:"selection"`
	// Handlers are the handlers whose queues receive the events; empty
	// means the bus, and so every handler.
	Handlers []string `json:"handlers,omitempty"`
	// Position is where the next page starts.
	Position Position `json:"position"`
	// Sent counts events delivered, Skipped records read but not sent (not
	// selected on closer look, nothing to replay, or no target subscribes).
	Sent    int `json:"sent"`
	Skipped int `json:"skipped"`
	// Missing lists selected digests without a record.
	Missing []domain.Digest `json:"missing,omitempty"`
	// Total is the source's count at the start, for progress.
	Total   int       `json:"total"`
	Done    bool      `json:"done,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
}

// DefaultCheckpointPath is where a replay keeps its checkpoint unless told
// otherwise: a file named after the replay in the current directory.
func DefaultCheckpointPath(replayID string) string {
	return ".ecrscan-replay-" + replayID + ".json"
}

// SaveCheckpoint writes cp to path atomically (a temporary file renamed over
// it), so an interruption never leaves half a checkpoint.
func SaveCheckpoint(path string, cp Checkpoint) error {
	cp.Version = checkpointVersion
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file renamed over
// it, so an interruption never leaves half a file: the checkpoints of
// replay and backfill.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// LoadCheckpoint reads a checkpoint SaveCheckpoint wrote.
func LoadCheckpoint(path string) (Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	if cp.Version != checkpointVersion {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: version %d, want %d", path, cp.Version, checkpointVersion)
	}
	if cp.ReplayID == "" || cp.Stack == "" {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: no replay ID or stack", path)
	}
	if err := cp.Selection.Validate(); err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return cp, nil
}
