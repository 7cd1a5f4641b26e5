package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/proxy/fields"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/token"
)

// MaxCryptInput bounds what keyward encrypt, decrypt and rewrap accept on
// the socket, so one request never makes the daemon hold more than a few
// MiB (the input, and an answer at most a third larger).
const MaxCryptInput = 4 << 20

// Errors of Encrypt, Decrypt and Rewrap callers branch on (errors.Is);
// token.ErrNoActiveKey means the application's ring has no generation
// that encrypts.
var (
	// ErrNoApp: no proxied application of that name.
	ErrNoApp = errors.New("no such proxied application")
	// ErrUnopened: a token of the input could not be opened (tampered,
	// unknown generation, another application's).
	ErrUnopened = errors.New("a token could not be opened")
)

// app is the application called name.
func (m *Manager) app(name string) (*App, error) {
	a, ok := m.byName[name]
	if !ok {
		return nil, engine.Errorf(ErrNoApp, "no proxied application %q (configured: %s)", name, strings.Join(m.names(), ", "))
	}
	return a, nil
}

// Known is nil when app is a proxied application, else an ErrNoApp that
// names the configured ones.
func (m *Manager) Known(app string) error {
	_, err := m.app(app)
	return err
}

// Encrypt makes one token of plaintext with the newest generation of app's
// ring (deterministic: an AES-SIV token, equal for equal plaintexts).
func (m *Manager) Encrypt(app string, plaintext []byte, deterministic bool) ([]byte, error) {
	a, err := m.app(app)
	if err != nil {
		return nil, err
	}
	out, err := a.encrypter(newExchange(context.Background(), time.Now()))(nil, plaintext, deterministic, token.Text)
	if err != nil {
		return nil, err
	}
	a.countEncrypted(1)
	return out, nil
}

// Decrypt opens text with app's ring: a single token comes back as its
// plaintext, a JSON document or any other text with every token in it
// opened. A token that does not open fails it all (ErrUnopened, naming
// why). The event says who had how many tokens opened; the caller records
// it. user and role name the caller.
func (m *Manager) Decrypt(app string, text []byte, user, role string) ([]byte, *engine.Event, error) {
	a, err := m.app(app)
	if err != nil {
		return nil, nil, err
	}
	ex := newExchange(context.Background(), time.Now())
	trimmed := bytes.TrimSpace(text)
	var out []byte
	var op fields.Opened
	switch {
	case len(trimmed) > 0 && token.Span(trimmed) == len(trimmed):
		var err error
		out, _, err = a.decrypter(ex)(nil, trimmed)
		if err != nil {
			op.Failed = append(op.Failed, err)
		} else {
			op.Decrypted = 1
		}
	case fields.Valid(text):
		out, op = fields.DecryptJSON(nil, text, a.decrypter(ex))
	default:
		out, op = fields.DecryptText(nil, text, a.decrypter(ex))
	}
	a.countOpened(op)
	if len(op.Failed) > 0 {
		clear(out)
		msgs := make([]string, 0, len(op.Failed))
		for _, e := range op.Failed {
			msgs = append(msgs, e.Error())
		}
		return nil, nil, engine.Errorf(ErrUnopened, "%s could not be decrypted: %s", engine.Plural(len(op.Failed), "token"), strings.Join(dedupe(msgs), "; "))
	}
	ev, _ := a.activity("decrypt", engine.SeverityInfo, user,
		fmt.Sprintf("keyward decrypt opened %s for %s caller", engine.Plural(op.Decrypted, "token"), engine.WithArticle(role)))
	return out, &ev, nil
}

// Rewrap re-encrypts every token of text made with an older generation of
// app's ring under the newest (keyward rewrap): the plaintext stays in the
// daemon. It returns the text and how many tokens it re-encrypted, and,
// whether it worked or not, the event to record (user asked).
func (m *Manager) Rewrap(app string, text []byte, user string) ([]byte, int, *engine.Event, error) {
	a, err := m.app(app)
	if err != nil {
		return nil, 0, nil, err
	}
	out, st, err := a.codec.Rewrap(nil, text)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		ev, _ := a.activity("rewrap", engine.SeverityWarn, user, "keyward rewrap refused: "+msg)
		if !errors.Is(err, token.ErrNoActiveKey) {
			err = &engine.KindError{Kind: ErrUnopened, Msg: msg}
		}
		return nil, 0, &ev, err
	}
	from := make([]string, 0, len(st.From))
	for _, id := range slices.Sorted(maps.Keys(st.From)) {
		from = append(from, fmt.Sprintf("%d from %s", st.From[id], id))
	}
	details := fmt.Sprintf("keyward rewrap re-encrypted %s under key id %s (%s); %d already under it", engine.Plural(st.Rewrapped, "token"), st.To, strings.Join(from, ", "), st.Current)
	if st.Rewrapped == 0 {
		details = fmt.Sprintf("keyward rewrap found %s, all already under key id %s", engine.Plural(st.Current, "token"), st.To)
	}
	ev, _ := a.activity("rewrap", engine.SeverityInfo, user, details)
	return out, st.Rewrapped, &ev, nil
}

// AllowUserDecrypt says whether proxy.allow_user_decrypt lets users
// decrypt (otherwise decrypt is for admins).
func (m *Manager) AllowUserDecrypt() bool { return m.cfg.AllowUserDecrypt }

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (m *Manager) names() []string {
	out := make([]string, 0, len(m.apps))
	for _, a := range m.apps {
		out = append(out, a.Name())
	}
	return out
}
