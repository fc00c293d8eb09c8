module github.com/sessiond/sessiond/compat

go 1.26.8

require github.com/sessiond/sessiond v0.0.0

replace github.com/sessiond/sessiond => ../
