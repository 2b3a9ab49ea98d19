from llamaburn.cli import main

raise SystemExit(main())
