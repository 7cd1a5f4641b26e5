package proxypane

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keyward/keyward/daemon/api"
)

// Decode reads the Data of a "proxy" notification: one application's status
// (what the daemon sends) or a list of them.
func Decode(raw json.RawMessage) ([]api.ProxyStatus, error) {
	if len(raw) == 0 {
		return nil, errors.New("proxy notification carries no status")
	}
	var list []api.ProxyStatus
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("decode proxy status list: %w", err)
		}
	} else {
		var one api.ProxyStatus
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("decode proxy status: %w", err)
		}
		list = []api.ProxyStatus{one}
	}
	for _, s := range list {
		if s.App == "" {
			return nil, errors.New("proxy status names no application")
		}
	}
	return list, nil
}
