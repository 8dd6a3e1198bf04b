package sshx

import (
	"fmt"
	"io"
	"strings"

	"virtdev/lib/layout"
)

// HostBlock writes a Host block that lets plain OpenSSH (ssh, scp, sftp,
// rsync, editors' remote features) reach machine m as Alias(m.Name) from
// the user's own configuration, through an Include line.
//
// The machine's port changes at every start, so the block names none:
// proxy, a command line, is run by ssh at each connection
// (ProxyCommand) to find the port and connect to it, and hands ssh the
// connected socket (ProxyUseFdpass). The rest is what Assemble gives
// virtdev's own connections, minus the pre-ssh triggers, which run
// around each of those: the user's ssh_config files, included where
// they are so that later edits count, then Defaults. comment lines, if
// any, open the block.
func HostBlock(w io.Writer, l layout.Layout, m layout.Machine, proxy []string, comment ...string) error {
	defaults, err := Defaults(m, l.SSHKey)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Host %s\n", Alias(m.Name))
	for _, c := range comment {
		fmt.Fprintf(&b, "\t# %s\n", strings.ReplaceAll(c, "\n", " "))
	}
	fmt.Fprintf(&b, "\tHostName %s\n\tProxyCommand %s\n\tProxyUseFdpass yes\n", Host, ProxyCommand(proxy))
	for _, p := range ConfigPaths(l, m.Name) {
		q, err := QuotePath(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "\tInclude %s\n", q)
	}
	for _, o := range defaults {
		fmt.Fprintf(&b, "\t%s %s\n", o.Keyword, o.Value)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// ProxyCommand writes a command line as ProxyCommand takes it: ssh
// expands %-tokens in it, then runs it with /bin/sh, so each argument is
// quoted for the shell and each % doubled.
func ProxyCommand(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(a, "%", "%%"), "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
