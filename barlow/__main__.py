import sys

from barlow.cli import main

sys.exit(main())
