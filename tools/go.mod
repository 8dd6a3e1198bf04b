module virtdev/tools

go 1.26.0

require virtdev/lib v0.0.0

require (
	github.com/jessevdk/go-flags v1.6.1 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/xo/terminfo v1.3.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
)

replace virtdev/lib => ../lib
