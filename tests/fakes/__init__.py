"""Local fakes of the remote services tocsin talks to: real HTTP servers on 127.0.0.1 that
check what the real service checks and answer in its shapes."""
