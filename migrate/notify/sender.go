package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
)

// Defaults of a Sender.
const (
	DefaultMaxAttempts = 6
	defaultPoll        = 5 * time.Second
	claimBatch         = 10
)

// DefaultBackoff waits 30s after the first failed attempt and twice as
// long after each next one, at most 30 minutes: six attempts span about
// 15 minutes, enough for a relay or receiver to restart.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Sender delivers the outbox. Run it in the background of serve; it never
// blocks or fails a move: the runner only writes notifications, in its own
// transactions, and the sender reads them from there.
type Sender struct {
	DB     *db.DB
	Config config.Notify
	Log    *slog.Logger
	// Client makes the webhook requests (nil: one that follows no
	// redirects, which would turn the POST into a GET; each webhook's
	// timeout applies per request).
	Client *http.Client
	// Poll is how often Run looks for due deliveries unless woken
	// (default 5s).
	Poll time.Duration
	// MaxAttempts bounds the attempts of one delivery (default 6), and
	// Backoff is the wait after failed attempt n (default DefaultBackoff).
	MaxAttempts int
	Backoff     func(attempt int) time.Duration

	once   sync.Once
	wake   chan struct{}
	direct *http.Client
}

func (s *Sender) init() {
	s.once.Do(func() {
		s.wake = make(chan struct{}, 1)
		s.direct = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a 3xx is not a delivery: retried, then given up
		}}
	})
}

// Wake asks Run to look for due deliveries now.
func (s *Sender) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. A failing round (the job store) is logged
// and tried again at the next poll.
func (s *Sender) Run(ctx context.Context) error {
	s.init()
	poll := s.Poll
	if poll <= 0 {
		poll = defaultPoll
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		case <-timer.C:
		}
		if _, err := s.Flush(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("deliver notifications", "err", err)
		}
		timer.Reset(poll)
	}
}

// Flush makes the deliveries of new notifications and attempts every
// delivery that is due, once. It returns how many it attempted.
func (s *Sender) Flush(ctx context.Context) (int, error) {
	if _, err := s.DB.ExpandNotifications(ctx, s.Config.WebhookURLs(), s.Config.SMTP != nil); err != nil {
		return 0, fmt.Errorf("expand notifications: %w", err)
	}
	attempted := 0
	for {
		due, err := s.DB.ClaimDeliveries(ctx, claimBatch, s.lease())
		if err != nil {
			return attempted, fmt.Errorf("claim deliveries: %w", err)
		}
		for _, dl := range due {
			if err := s.attempt(ctx, dl); err != nil {
				return attempted, err
			}
			attempted++
		}
		if len(due) < claimBatch {
			return attempted, nil
		}
	}
}

// attempt delivers dl once and records the outcome; only a failure to
// record it is returned.
func (s *Sender) attempt(ctx context.Context, dl db.Delivery) error {
	log := s.logger().With("job", dl.Notification.JobID, "notification", dl.Notification.Key,
		"channel", dl.Channel, "attempt", dl.Attempts)
	if dl.Notification.UID != "" {
		log = log.With("mailbox", dl.Notification.UID)
	}
	err := s.deliver(ctx, dl)
	if ctx.Err() != nil {
		return ctx.Err() // stopping: the lease ends and the next run retries
	}
	if err == nil {
		log.Info("notification sent")
		if err := s.DB.DeliverySent(ctx, dl.ID); err != nil {
			return fmt.Errorf("record delivery %d sent: %w", dl.ID, err)
		}
		return nil
	}
	var perm *permanentError
	var retryAt time.Time
	if !errors.As(err, &perm) && dl.Attempts < s.maxAttempts() {
		retryAt = s.DB.Now().Add(s.backoff(dl.Attempts))
	}
	if retryAt.IsZero() {
		log.Error("notification not sent, given up", "err", err)
	} else {
		log.Warn("notification not sent, will retry", "err", err, "retry_at", retryAt)
	}
	if rerr := s.DB.DeliveryFailed(ctx, dl.ID, err.Error(), retryAt); rerr != nil {
		return fmt.Errorf("record delivery %d failed: %w", dl.ID, rerr)
	}
	return nil
}

func (s *Sender) deliver(ctx context.Context, dl db.Delivery) error {
	p := NewPayload(dl.Notification, s.Config.BaseURL)
	if p.At.IsZero() { // a move saved as ended without its end time
		p.At = s.DB.Now().UTC()
	}
	switch dl.Channel {
	case db.ChannelWebhook:
		w, ok := s.Config.Webhook(dl.Destination)
		if !ok {
			return &permanentError{errors.New("this webhook is no longer configured")}
		}
		body, err := json.Marshal(p)
		if err != nil {
			return &permanentError{err}
		}
		return postWebhook(ctx, s.client(), w, p.ID, body)
	case db.ChannelEmail:
		if s.Config.SMTP == nil {
			return &permanentError{errors.New("no SMTP relay is configured ([notify.smtp])")}
		}
		return sendMail(ctx, *s.Config.SMTP, strings.Split(dl.Destination, ","), p)
	}
	return &permanentError{fmt.Errorf("unknown channel %q", dl.Channel)}
}

// lease is longer than any one attempt can take.
func (s *Sender) lease() time.Duration {
	longest := config.DefaultWebhookTimeout
	for _, w := range s.Config.Webhooks {
		longest = max(longest, w.Timeout)
	}
	if s.Config.SMTP != nil {
		longest = max(longest, s.Config.SMTP.Timeout)
	}
	return longest + time.Minute
}

func (s *Sender) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (s *Sender) backoff(attempt int) time.Duration {
	if s.Backoff != nil {
		return s.Backoff(attempt)
	}
	return DefaultBackoff(attempt)
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	s.init()
	return s.direct
}

func (s *Sender) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
