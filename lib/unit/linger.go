package unit

import (
	"context"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/login1"
)

// lingerTimeout keeps a silent or absent logind from delaying a start.
const lingerTimeout = time.Second

// Lingering reports whether the calling user's manager outlives their last
// session. known is false when logind cannot tell (no system bus, no
// logind, the user unknown to it): callers then say nothing rather than
// guess.
func Lingering(ctx context.Context) (lingering, known bool) {
	ctx, cancel := context.WithTimeout(ctx, lingerTimeout)
	defer cancel()
	conn, err := login1.New()
	if err != nil {
		return false, false
	}
	defer conn.Close()
	users, err := conn.ListUsersContext(ctx)
	if err != nil {
		return false, false
	}
	uid := uint32(os.Getuid())
	for _, u := range users {
		if u.UID != uid {
			continue
		}
		v, err := conn.GetUserPropertyContext(ctx, u.Path, "Linger")
		if err != nil {
			return false, false
		}
		b, ok := v.Value().(bool)
		return b, ok
	}
	return false, false
}
