package unit

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Running lists the loaded units whose names match a glob pattern
// ("virtdev-*.service") and that run, as Status.Running means it, by name.
func (m *Manager) Running(ctx context.Context, pattern string) ([]string, error) {
	states, err := m.ActiveStates(ctx, pattern)
	if err != nil {
		return nil, err
	}
	var names []string
	for name, state := range states {
		if (Status{ActiveState: state}).Running() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// ActiveStates is userbus.ActiveStates on an open connection.
func (m *Manager) ActiveStates(ctx context.Context, patterns ...string) (map[string]string, error) {
	units, err := m.conn.ListUnitsByPatternsContext(ctx, nil, patterns)
	if err != nil {
		return nil, fmt.Errorf("cannot list the units matching %s: %w", strings.Join(patterns, " "), err)
	}
	states := make(map[string]string, len(units))
	for _, u := range units {
		states[u.Name] = u.ActiveState
	}
	return states, nil
}

// Commands returns the argument vectors a service runs: its ExecStart and
// ExecStopPost commands, program first.
func (m *Manager) Commands(ctx context.Context, service string) ([][]string, error) {
	var commands [][]string
	for _, property := range []string{"ExecStart", "ExecStopPost"} {
		p, err := m.conn.GetServicePropertyContext(ctx, service, property)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s of %s: %w", property, service, err)
		}
		commands = append(commands, argvs(p.Value.Value())...)
	}
	return commands, nil
}

// argvs reads systemd's exec command list, D-Bus type a(sasbttttuii): per
// command its path, its argv, and status fields, of which only argv
// matters here.
func argvs(value any) [][]string {
	list, _ := value.([][]any)
	var out [][]string
	for _, entry := range list {
		if len(entry) > 1 {
			if argv, ok := entry[1].([]string); ok {
				out = append(out, argv)
			}
		}
	}
	return out
}
