package web

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/rtp-project/rtp/web/metrics"
)

// rateWindow is how far back the throughput is averaged.
const rateWindow = 10 * time.Second

// rateMeter turns samples of the bytes served into a throughput. Samples
// are taken when someone asks, not on a timer: a face nobody looks at does
// nothing.
type rateMeter struct {
	mu      sync.Mutex
	samples []metrics.Live // oldest first; all but the first within rateWindow of the last
}

// sample records l and returns the bytes per second since the oldest
// sample kept, or -1 when there is no earlier sample.
func (m *rateMeter) sample(l metrics.Live) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	// At most four samples a second are kept, however many ask.
	if n := len(m.samples); n == 0 || l.Time.Sub(m.samples[n-1].Time) >= 250*time.Millisecond {
		m.samples = append(m.samples, l)
	}
	// Keep one sample older than the window, as the base.
	for len(m.samples) > 1 && l.Time.Sub(m.samples[1].Time) >= rateWindow {
		m.samples = m.samples[1:]
	}
	base := m.samples[0]
	dt := l.Time.Sub(base.Time).Seconds()
	if dt < 0.1 {
		return -1
	}
	sent := l.BytesServed + l.HTTPBytes - base.BytesServed - base.HTTPBytes
	return float64(sent) / dt
}

// liveView is what /live.json sends and the page shows.
type liveView struct {
	metrics.Live
	Total int64   `json:"sessions_total"` // open sessions, all transports
	Rate  float64 `json:"bytes_per_second"`
}

func (f *Face) liveNow() (liveView, bool) {
	if f.cfg.Live == nil {
		return liveView{}, false
	}
	l := f.cfg.Live()
	v := liveView{Live: l, Rate: f.rate.sample(l)}
	for _, n := range l.Sessions {
		v.Total += n
	}
	return v, true
}

// live serves GET /live.json: the live figures, for the page to poll.
func (f *Face) live(w http.ResponseWriter, r *http.Request) {
	v, ok := f.liveNow()
	if !ok {
		http.Error(w, "no live figures", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
