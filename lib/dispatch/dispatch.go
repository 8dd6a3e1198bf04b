// Package dispatch finds the program behind a virtdev verb.
//
// Programs beside the dispatcher's own executable win over those on PATH,
// so a build tree (./bin) or an install prefix always runs its own set even
// when another version is installed elsewhere.
package dispatch

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"virtdev/lib/cli"
)

// Prefix is the name every virtdev program starts with.
const Prefix = "virtdev-"

// ValidVerb rejects verbs that would make the lookup leave the program
// namespace (paths, . and ..) or look like options.
func ValidVerb(verb string) bool {
	return verb != "" && verb != "." && verb != ".." &&
		!strings.ContainsRune(verb, '/') && !strings.HasPrefix(verb, "-")
}

// SelfDir is the directory of the running executable, links resolved.
func SelfDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Dir(exe)
}

// Find returns the program for verb: beside selfDir first, then on PATH.
func Find(selfDir, verb string) (string, bool) {
	if selfDir != "" {
		candidate := filepath.Join(selfDir, Prefix+verb)
		if executable(candidate) {
			return candidate, true
		}
	}
	path, err := exec.LookPath(Prefix + verb)
	if err != nil {
		return "", false
	}
	return path, true
}

// Verbs lists every verb reachable from selfDir and PATH, sorted, once each.
func Verbs(selfDir, pathList string) []string {
	dirs := append([]string{selfDir}, filepath.SplitList(pathList)...)
	var verbs []string
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			verb, ok := strings.CutPrefix(e.Name(), Prefix)
			if ok && ValidVerb(verb) && executable(filepath.Join(dir, e.Name())) {
				verbs = append(verbs, verb)
			}
		}
	}
	slices.Sort(verbs)
	return slices.Compact(verbs)
}

func executable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// Program is a verb as virtdev --help lists it: what the program says of
// itself through --contract. A program that does not answer (not a virtdev
// program, or a broken one) has no group and no summary.
type Program struct {
	Verb    string
	Group   cli.Group
	Summary string
}

// describeTimeout bounds one program's answer to --contract.
const describeTimeout = 2 * time.Second

// Describe asks every verb's program for its contract, all at once, and
// returns them in the order of verbs.
func Describe(selfDir string, verbs []string) []Program {
	programs := make([]Program, len(verbs))
	var wg sync.WaitGroup
	for i, verb := range verbs {
		programs[i].Verb = verb
		path, ok := Find(selfDir, verb)
		if !ok {
			continue
		}
		wg.Add(1)
		go func(p *Program) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), describeTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, path, "--contract").Output()
			var k cli.Contract
			if err != nil || json.Unmarshal(out, &k) != nil || k.Name != Prefix+p.Verb {
				return
			}
			p.Group, p.Summary = k.Group, k.Summary
		}(&programs[i])
	}
	wg.Wait()
	return programs
}
