package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/movewizard/movewizard/migrate/config"
)

// Sign is the X-Movewizard-Signature value of body: "sha256=" and the hex
// HMAC-SHA256 of the body under secret. Receivers compute the same over
// the raw body and compare in constant time.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// postWebhook POSTs body to w. Anything but a 2xx answer is an error; the
// error names the status, never the URL's query (it may carry a token).
func postWebhook(ctx context.Context, client *http.Client, w config.Webhook, key string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "movewizard")
	req.Header.Set("X-Movewizard-Notification", key)
	if w.Secret != "" {
		req.Header.Set(config.WebhookSignatureHeader, Sign(w.Secret, body))
	}
	if w.Header != "" {
		req.Header.Set(w.Header, w.HeaderValue)
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error would quote the URL with its query.
		if ctx.Err() != nil {
			return fmt.Errorf("webhook did not answer within %s", w.Timeout)
		}
		return fmt.Errorf("webhook: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
