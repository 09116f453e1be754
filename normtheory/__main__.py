import sys

from normtheory.cli import main

sys.exit(main())
