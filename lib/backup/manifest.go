// Package backup keeps the user's chosen guest paths safe on the host.
package backup

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/layout"
)

// ErrNoManifest means neither manifest location holds a file.
var ErrNoManifest = errors.New("no backup manifest")

// ManifestCandidates are the places a project's manifest may be, in order of
// precedence: the project-local one (a one-off that dies with the VM) before
// the durable one in the user's configuration.
func ManifestCandidates(l layout.Layout, project string) []string {
	return []string{l.Project(project).Manifest, l.ProjectConfig(project).Manifest}
}

// ResolveManifest returns the manifest in force for a project.
func ResolveManifest(l layout.Layout, project string) (string, error) {
	candidates := ManifestCandidates(l, project)
	for _, path := range candidates {
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w for %s: none of %q", ErrNoManifest, project, candidates)
}
