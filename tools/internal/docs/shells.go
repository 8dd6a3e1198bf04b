package docs

import (
	"fmt"
	"sort"
	"strings"

	"virtdev/lib/cli"
)

// Each shell's block defines what the hand-written part of its script needs
// to complete one program: its options (and which take a separate value),
// the choices of options, and the kind of each positional argument. The
// kinds are cli.ArgKind; the scripts know how to complete each.

// positionals splits the arguments into the fixed ones and the kind of the
// repeated last one ("" when none repeats).
func positionals(k cli.Contract) (fixed []cli.Arg, rest cli.ArgKind) {
	for _, a := range k.Args {
		if a.Repeat {
			return fixed, a.Kind
		}
		fixed = append(fixed, a)
	}
	return fixed, ""
}

// valueSets lists an argument's enumerated values, keyed as the scripts
// look them up: "" for all, else the argument before it.
func valueSets(a cli.Arg) []struct{ key, values string } {
	var sets []struct{ key, values string }
	if len(a.Values) > 0 {
		sets = append(sets, struct{ key, values string }{"", strings.Join(a.Values, " ")})
	}
	keys := make([]string, 0, len(a.ValuesFor))
	for key := range a.ValuesFor {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		sets = append(sets, struct{ key, values string }{key, strings.Join(a.ValuesFor[key], " ")})
	}
	return sets
}

// shQuote quotes for bash and zsh: in single quotes, a quote inside closes
// them, is escaped, and opens them again.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func bashBlock(k cli.Contract) string {
	var b strings.Builder
	fmt.Fprintf(&b, "_virtdev_spec_%s() {\n", verb(k))
	var opts, valued, choices []string
	for _, o := range k.Options {
		takesValue := o.Value != ""
		if o.Short != "" {
			opts = append(opts, "-"+o.Short)
			if takesValue && !o.Optional {
				valued = append(valued, "-"+o.Short)
			}
		}
		if o.Long != "" {
			long := "--" + o.Long
			if takesValue {
				opts = append(opts, long+"=")
				if !o.Optional {
					valued = append(valued, long)
				}
			} else {
				opts = append(opts, long)
			}
			if len(o.Choices) > 0 {
				choices = append(choices, fmt.Sprintf("[%s]=%s", long, shQuote(strings.Join(o.Choices, " "))))
				if o.Short != "" {
					choices = append(choices, fmt.Sprintf("[-%s]=%s", o.Short, shQuote(strings.Join(o.Choices, " "))))
				}
			}
		}
	}
	fixed, rest := positionals(k)
	var kinds, values []string
	for i, a := range fixed {
		kinds = append(kinds, string(a.Kind))
		for _, set := range valueSets(a) {
			key := fmt.Sprint(i)
			if set.key != "" {
				key += ":" + set.key
			}
			values = append(values, fmt.Sprintf("[%s]=%s", shQuote(key), shQuote(set.values)))
		}
	}
	fmt.Fprintf(&b, "    options=(%s)\n", strings.Join(opts, " "))
	fmt.Fprintf(&b, "    valued=%s\n", shQuote(" "+strings.Join(valued, " ")+" "))
	fmt.Fprintf(&b, "    choices=(%s)\n", strings.Join(choices, " "))
	fmt.Fprintf(&b, "    args=(%s)\n", strings.Join(kinds, " "))
	fmt.Fprintf(&b, "    values=(%s)\n", strings.Join(values, " "))
	fmt.Fprintf(&b, "    rest=%s\n", rest)
	fmt.Fprintf(&b, "    passthrough=%d\n", boolInt(k.PassThrough))
	b.WriteString("}\n")
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// zshText escapes a description for an _arguments spec.
func zshText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshAction is how _arguments completes an argument of a kind; i is the
// argument's position (1-based, as $line counts).
func zshAction(a cli.Arg, i int) string {
	switch a.Kind {
	case cli.ArgProject:
		return "_virtdev_projects"
	case cli.ArgMachine:
		return "_virtdev_machines"
	case cli.ArgPathTarget:
		return "_virtdev_path_names"
	case cli.ArgResource:
		var sets []string
		for _, set := range valueSets(a) {
			sets = append(sets, `"`+set.key+"="+set.values+`"`)
		}
		return fmt.Sprintf(`{_virtdev_pick "${line[%d]}" %s}`, i-1, strings.Join(sets, " "))
	case cli.ArgSnapshot:
		return fmt.Sprintf(`{_virtdev_snapshots "${line[%d]}"}`, i-1)
	case cli.ArgFile:
		return "_files"
	case cli.ArgTransfer:
		return "_virtdev_transfer"
	case cli.ArgSSH:
		return "_default"
	case cli.ArgVerb:
		return "_virtdev_verbs"
	}
	return " "
}

func zshBlock(k cli.Contract) string {
	var specs []string
	for _, o := range k.Options {
		desc := "[" + zshText(optionText(o)) + "]"
		value := ""
		if o.Value != "" {
			action := " "
			if len(o.Choices) > 0 {
				action = "(" + strings.Join(o.Choices, " ") + ")"
			}
			colon := ":"
			if o.Optional {
				colon = "::"
			}
			value = colon + zshText(strings.ToLower(o.Value)) + ":" + action
		}
		long, short := "--"+o.Long, "-"+o.Short
		switch {
		case o.Long == "help":
			specs = append(specs, "'(- *)'{-h,--help}"+shQuote(desc))
		case o.Short != "" && o.Long != "":
			eq := ""
			if o.Value != "" {
				eq = "+"
			}
			specs = append(specs, fmt.Sprintf("'(%s %s)'{%s%s,%s%s}%s", short, long, short, eq, long, equalsFor(o), shQuote(desc+value)))
		case o.Long != "":
			specs = append(specs, shQuote(long+equalsFor(o)+desc+value))
		default:
			specs = append(specs, shQuote(short+desc+value))
		}
	}
	fixed, rest := positionals(k)
	for i, a := range fixed {
		colon := ":"
		if a.Optional {
			colon = "::"
		}
		specs = append(specs, shQuote(colon+zshText(a.Name)+":"+zshAction(a, i+1)))
	}
	if rest != "" {
		last := k.Args[len(k.Args)-1]
		specs = append(specs, shQuote("*::"+zshText(last.Name)+":"+zshAction(last, len(k.Args))))
	}
	flags := "-s -S"
	if k.PassThrough {
		flags += " -A '-*'"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "_virtdev_spec_%s() {\n  _arguments %s : \\\n", verb(k), flags)
	for i, s := range specs {
		end := " \\\n"
		if i == len(specs)-1 {
			end = "\n"
		}
		b.WriteString("    " + s + end)
	}
	b.WriteString("}\n")
	return b.String()
}

// equalsFor is how a long option's value attaches: --x= takes it either
// way, --x=- only attached (an optional value).
func equalsFor(o cli.Option) string {
	switch {
	case o.Value == "":
		return ""
	case o.Optional:
		return "=-"
	}
	return "="
}

// fishQuote quotes for fish: single quotes, with \ and ' escaped.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func fishBlock(k cli.Contract) string {
	v := strings.TrimPrefix(k.Name, "virtdev-")
	var b strings.Builder
	var valued []string
	for _, o := range k.Options {
		if o.Value != "" && !o.Optional {
			if o.Long != "" {
				valued = append(valued, "--"+o.Long)
			}
			if o.Short != "" {
				valued = append(valued, "-"+o.Short)
			}
		}
	}
	fmt.Fprintf(&b, "set -g __virtdev_valued_%s %s\n", verb(k), strings.Join(valued, " "))
	fmt.Fprintf(&b, "set -g __virtdev_passthrough_%s %d\n", verb(k), boolInt(k.PassThrough))
	// Both the program and the dispatcher followed by the verb.
	cmds := "-c " + k.Name + " -c virtdev"
	cond := fishQuote("__virtdev_is " + v + "; and __virtdev_options")
	fmt.Fprintf(&b, "complete %s -n %s -f\n", cmds, cond)
	for _, o := range k.Options {
		fmt.Fprintf(&b, "complete %s -n %s", cmds, cond)
		if o.Short != "" {
			fmt.Fprintf(&b, " -s %s", o.Short)
		}
		if o.Long != "" {
			fmt.Fprintf(&b, " -l %s", o.Long)
		}
		switch {
		case len(o.Choices) > 0:
			fmt.Fprintf(&b, " -x -a %s", fishQuote(strings.Join(o.Choices, " ")))
		case o.Value != "":
			b.WriteString(" -x")
		}
		fmt.Fprintf(&b, " -d %s\n", fishQuote(optionText(o)))
	}
	fixed, rest := positionals(k)
	for i, a := range fixed {
		if action := fishAction(a); action != "" {
			fmt.Fprintf(&b, "complete %s -n %s -a %s\n", cmds, fishQuote(fmt.Sprintf("__virtdev_is %s; and __virtdev_arg %d", v, i)), action)
		}
	}
	if rest != "" {
		if action := fishAction(k.Args[len(k.Args)-1]); action != "" {
			fmt.Fprintf(&b, "complete %s -n %s -a %s\n", cmds, fishQuote(fmt.Sprintf("__virtdev_is %s; and __virtdev_arg_from %d", v, len(fixed))), action)
		}
	}
	return b.String()
}

// fishAction is the -a argument completing a kind, or "" for none.
func fishAction(a cli.Arg) string {
	switch a.Kind {
	case cli.ArgProject:
		return "'(__virtdev_projects)'"
	case cli.ArgMachine:
		return "'(__virtdev_projects; printf \"maintenance\\tmachine\\n\")'"
	case cli.ArgPathTarget:
		return "'(__virtdev_projects; printf \"base\\tsealed base\\nmaintenance\\tstaging copy\\n\")'"
	case cli.ArgResource:
		var sets []string
		for _, set := range valueSets(a) {
			sets = append(sets, `"`+set.key+"="+set.values+`"`)
		}
		return fishQuote("(__virtdev_pick " + strings.Join(sets, " ") + ")")
	case cli.ArgSnapshot:
		return "'(__virtdev_snapshots)'"
	case cli.ArgFile, cli.ArgTransfer, cli.ArgSSH:
		return "'(__fish_complete_path (commandline -ct))'"
	case cli.ArgVerb:
		return "'(__virtdev_verbs)'"
	}
	return ""
}
