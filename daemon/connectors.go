package daemon

// The cloud connector kinds built into keyward. Each registers itself with
// cloud.Register from its own package; adding a cloud is a package and a
// line here.
import (
	_ "github.com/keyward/keyward/daemon/cloud/aws"
	_ "github.com/keyward/keyward/daemon/cloud/azure"
	_ "github.com/keyward/keyward/daemon/cloud/gcp"
)
