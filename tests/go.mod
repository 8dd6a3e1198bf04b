module virtdev/tests

go 1.26.0
