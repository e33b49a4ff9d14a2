from elfship.cli.main import main

raise SystemExit(main())
