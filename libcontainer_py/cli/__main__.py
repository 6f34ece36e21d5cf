from libcontainer_py.cli import main

main()
