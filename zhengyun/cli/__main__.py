"""`python -m zhengyun.cli …`: the same as the `zhengyun` command."""

import sys

from zhengyun.cli.main import main

sys.exit(main())
