package signaling

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of the throttles: a key may miss `misses` times in a row, then one more time every
// window/misses.
const (
	shareMisses     = 10 // invalid share keys per client address
	shareWindow     = time.Minute
	passcodeMisses  = 5 // wrong passcodes per link (and, as invalid keys, per address)
	passcodeWindow  = 5 * time.Minute
	loginAddrMisses = 10 // failed logins per client address
	loginAddrWindow = 5 * time.Minute
	loginUserMisses = 5 // failed logins per username, from anywhere
	loginUserWindow = 5 * time.Minute
	joinsPerAddress = 60 // peer sockets (each a history row), and apart agent handshakes, per client address
	joinWindow      = 10 * time.Second
	throttleMaxKeys = 1 << 16 // keys remembered at most, per throttle
)

// throttle counts the misses (invalid share keys, failed logins) of each key (a client
// address, a username), so that guessing costs time: a key that used up its misses is
// refused every attempt, right or wrong, until its budget refills. Other keys are unaffected.
type throttle struct {
	now    func() time.Time
	misses int
	window time.Duration
	// shared, if set, is told of every miss charged here (a cluster charges it on every node).
	shared func(key string)

	mu        sync.Mutex
	budgets   map[string]*budget
	lastPrune time.Time
}

// budget is one key's misses: refilled over time, less the attempts under way.
type budget struct {
	misses   *rate.Limiter
	inFlight int // attempts whose keys are being looked up
}

func newThrottle(now func() time.Time, misses int, window time.Duration) *throttle {
	return &throttle{now: now, misses: misses, window: window, budgets: make(map[string]*budget)}
}

// attempt starts an attempt of key, counting it as a possible miss until it is done, so that
// concurrent attempts of one key cannot all pass before any of them has failed. It reports
// false, with how long until the key may try again, if key has no miss left; otherwise the
// caller calls done once it knows whether the attempt missed.
func (t *throttle) attempt(key string) (done func(missed bool), retryAfter time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b := t.budgetOf(key, now)
	if left := b.misses.TokensAt(now) - float64(b.inFlight); left < 1 {
		return nil, time.Duration((1 - left) / float64(b.misses.Limit()) * float64(time.Second)), false
	}
	b.inFlight++
	return func(missed bool) {
		t.mu.Lock()
		b.inFlight--
		if missed {
			b.misses.AllowN(t.now(), 1)
		}
		t.mu.Unlock()
		if missed && t.shared != nil {
			t.shared(key)
		}
	}, 0, true
}

// check reports whether key has a miss left (attempts under way count), or how long until
// it has one.
func (t *throttle) check(key string) (retryAfter time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.budgets[key]
	if b == nil {
		return 0, true
	}
	if left := b.misses.TokensAt(t.now()) - float64(b.inFlight); left < 1 {
		return time.Duration((1 - left) / float64(b.misses.Limit()) * float64(time.Second)), false
	}
	return 0, true
}

// miss charges one miss to key.
func (t *throttle) miss(key string) {
	t.charge(key)
	if t.shared != nil {
		t.shared(key)
	}
}

// charge charges one miss to key, here only: a miss charged on another node.
func (t *throttle) charge(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.budgetOf(key, now).misses.AllowN(now, 1)
}

// budgetOf returns key's budget, made full if key has none. Callers hold t.mu.
func (t *throttle) budgetOf(key string, now time.Time) *budget {
	b := t.budgets[key]
	if b == nil {
		t.prune(now)
		b = &budget{misses: rate.NewLimiter(rate.Every(t.window/time.Duration(t.misses)), t.misses)}
		t.budgets[key] = b
	}
	return b
}

// prune forgets the keys whose budget has refilled and that have no attempt under way: they
// are as good as new. It looks for them once a window, or once per refill of one miss while
// the map is full (not at every new key: a scan of a full map is costly). If the map is still
// full, arbitrary keys are forgotten. Callers hold t.mu.
func (t *throttle) prune(now time.Time) {
	full := len(t.budgets) >= throttleMaxKeys
	if since := now.Sub(t.lastPrune); since >= t.window || full && since >= t.window/time.Duration(t.misses) {
		t.lastPrune = now
		for key, b := range t.budgets {
			if b.inFlight == 0 && b.misses.TokensAt(now) >= float64(t.misses) {
				delete(t.budgets, key)
			}
		}
	}
	for key := range t.budgets {
		if len(t.budgets) < throttleMaxKeys {
			break
		}
		delete(t.budgets, key)
	}
}
