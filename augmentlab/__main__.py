import sys

from augmentlab.cli import main

sys.exit(main())
