package daemon

import (
	"fmt"
	"net"
	"os/user"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyward/keyward/daemon/api"
)

// Roles maps a socket peer's uid and groups to a role: root and the
// daemon's own user are admins, members of the admin group are admins,
// members of the user group are users, and anyone else is refused.
type Roles struct {
	DaemonUID int
	AdminGID  int // -1 when no such group
	UserGID   int // -1 when no such group
	// Groups returns the supplementary groups of a uid (tests replace it).
	Groups func(uid int) []int
}

// NewRoles resolves the configured group names. A group that does not exist
// on this machine grants nothing (and is reported by the caller as a warning).
func NewRoles(daemonUID int, adminGroup, userGroup string) (Roles, []string) {
	var warnings []string
	gid := func(name string) int {
		if name == "" {
			return -1
		}
		g, err := user.LookupGroup(name)
		if err != nil {
			if n, err2 := strconv.Atoi(name); err2 == nil {
				return n
			}
			warnings = append(warnings, fmt.Sprintf("group %q does not exist on this machine; nobody gets its role", name))
			return -1
		}
		n, _ := strconv.Atoi(g.Gid)
		return n
	}
	c := &groupCache{m: map[int]groupEntry{}}
	return Roles{DaemonUID: daemonUID, AdminGID: gid(adminGroup), UserGID: gid(userGroup), Groups: c.lookup}, warnings
}

// Role decides the role of a peer.
func (r Roles) Role(uid, gid int) api.Role {
	if uid == 0 || uid == r.DaemonUID {
		return api.RoleAdmin
	}
	groups := []int{gid}
	if r.Groups != nil {
		groups = append(groups, r.Groups(uid)...)
	}
	has := func(want int) bool {
		if want < 0 {
			return false
		}
		for _, g := range groups {
			if g == want {
				return true
			}
		}
		return false
	}
	switch {
	case has(r.AdminGID):
		return api.RoleAdmin
	case has(r.UserGID):
		return api.RoleUser
	}
	return api.RoleNone
}

type groupEntry struct {
	gids []int
	at   time.Time
}

// groupCache remembers a uid's supplementary groups for a minute, so group
// changes take effect without a restart but not every request reads
// /etc/group.
type groupCache struct {
	mu sync.Mutex
	m  map[int]groupEntry
}

func (c *groupCache) lookup(uid int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[uid]; ok && time.Since(e.at) < time.Minute {
		return e.gids
	}
	var gids []int
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, s := range ids {
				if n, err := strconv.Atoi(s); err == nil {
					gids = append(gids, n)
				}
			}
		}
	}
	c.m[uid] = groupEntry{gids: gids, at: time.Now()}
	return gids
}

// peerCaller reads the kernel's peer credentials of a Unix socket
// connection and turns them into a Caller.
func (r Roles) peerCaller(c net.Conn) api.Caller {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return api.Caller{UID: -1, GID: -1}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return api.Caller{UID: -1, GID: -1}
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return api.Caller{UID: -1, GID: -1}
	}
	caller := api.Caller{UID: int(cred.Uid), GID: int(cred.Gid), User: strconv.Itoa(int(cred.Uid))}
	if u, err := user.LookupId(caller.User); err == nil {
		caller.User = u.Username
	}
	caller.Role = r.Role(caller.UID, caller.GID)
	return caller
}
