module virtdev/tests

go 1.26.0

require (
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	virtdev/lib v0.0.0
)

require (
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/digitalocean/go-libvirt v0.0.0-20220804181439-8648fbde413e // indirect
	github.com/digitalocean/go-qemu v0.0.0-20250212194115-ee9b0668d242 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)

replace virtdev/lib => ../lib
