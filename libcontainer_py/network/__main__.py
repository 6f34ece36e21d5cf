"""`python -m libcontainer_py.network up|down ...`: the `pyrunc-netns` hook without its console script."""

import sys

from libcontainer_py.network.hook import main

sys.exit(main())
