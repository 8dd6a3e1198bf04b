module virtdev/tests

go 1.24
