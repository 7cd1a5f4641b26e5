package config

import (
	"time"

	"github.com/keyward/keyward/engine"
)

func timeDuration(d engine.Duration) time.Duration { return time.Duration(d) }
