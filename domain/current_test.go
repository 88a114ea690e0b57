package domain

import (
	"testing"
	"time"
)

func TestCurrentImage(t *testing.T) {
	older := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	newer := older.Add(time.Hour)
	const a, b = Digest("sha256:aaaa"), Digest("sha256:bbbb")
	tests := []struct {
		name         string
		shown, event ImageScan
		want         bool
	}{
		{"target shows nothing", ImageScan{}, ImageScan{Digest: a, ScannedAt: older}, true},
		{"newer scan of another image", ImageScan{Digest: a, ScannedAt: older}, ImageScan{Digest: b, ScannedAt: newer}, true},
		{"older cached digest re-tagged after a newer scan", ImageScan{Digest: b, ScannedAt: newer}, ImageScan{Digest: a, ScannedAt: older}, false},
		{"same scan seen again", ImageScan{Digest: a, ScannedAt: older}, ImageScan{Digest: a, ScannedAt: older}, true},
		{"rescan of the shown image", ImageScan{Digest: a, ScannedAt: older}, ImageScan{Digest: a, ScannedAt: newer}, true},
		{"late redelivery of an older scan of the shown image", ImageScan{Digest: a, ScannedAt: newer}, ImageScan{Digest: a, ScannedAt: older}, false},
		{"same instant: greater digest wins", ImageScan{Digest: a, ScannedAt: older}, ImageScan{Digest: b, ScannedAt: older}, true},
		{"same instant: smaller digest loses", ImageScan{Digest: b, ScannedAt: older}, ImageScan{Digest: a, ScannedAt: older}, false},
		{"same instant in another zone", ImageScan{Digest: b, ScannedAt: older}, ImageScan{Digest: a, ScannedAt: older.In(time.FixedZone("x", 3600))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CurrentImage(tt.shown, tt.event); got != tt.want {
				t.Errorf("CurrentImage(%+v, %+v) = %v, want %v", tt.shown, tt.event, got, tt.want)
			}
		})
	}
	t.Run("order independent", func(t *testing.T) {
		x, y := ImageScan{Digest: a, ScannedAt: older}, ImageScan{Digest: b, ScannedAt: newer}
		apply := func(shown, ev ImageScan) ImageScan {
			if CurrentImage(shown, ev) {
				return ev
			}
			return shown
		}
		if got1, got2 := apply(apply(ImageScan{}, x), y), apply(apply(ImageScan{}, y), x); got1 != got2 {
			t.Errorf("x then y settles on %+v, y then x on %+v", got1, got2)
		}
	})
}
