import sys

from tinylm.cli.main import main

sys.exit(main())
