import sys

from bo_transfer.cli import main

sys.exit(main())
